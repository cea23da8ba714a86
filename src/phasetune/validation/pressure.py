"""D-DOS G(P, T) and V*(P, T) against ground truth at pressure (issue 13 targets).

The ground truth is :func:`~phasetune.ti.gibbs.gibbs_free_energy` on the archive's own cell (the
middle sampled volume's lattice, rescaled by the NPT run to ⟨V⟩(P, T)): G = F(⟨V⟩) + P⟨V⟩ in the
COM-fixed convention G^(3N−3), per atom.  Deviations d_G = G_DDOS − G_TI with σ = (σ_DDOS² +
σ_TI²)^{1/2}, and d_V = (V*_DDOS − ⟨V⟩_MD)/⟨V⟩_MD.

Targets: |d_G| ≤ 2 meV/atom and |d_V| ≤ 0.2 % wherever D-DOS is solved; error bars cover when
|d_G| ≤ 1.645σ.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..constants import GPA_TO_EV_PER_A3
from ..conventions import Conventions
from ..estimator.store import check_potential
from ..potentials.linear import LinearPotential
from ..pressure.loading import load_pressure_phases
from ..structures.crystals import reference_atoms
from ..ti.gibbs import gibbs_free_energy
from .compare import COVERAGE_TARGET, Z90

G_TARGET = 2e-3
"""|G_DDOS − G_TI| target, eV/atom."""
V_TARGET = 2e-3
"""|V*_DDOS − ⟨V⟩_MD|/⟨V⟩_MD target."""


def validate_pressure(archive: str | Path, potential: LinearPotential,
                      temperatures: Sequence[float], pressures_gpa: Sequence[float], *,
                      phases: Sequence[str] | None = None, out: str | Path = "validation-output/ti",
                      repeats: int = 2, steps: int | None = None, npt_steps: int = 10_000,
                      seed: int = 0, progress: bool | str = True) -> dict:
    """Run (or resume) G^(3N−3) by NPT + TI for every phase, T and P and compare with D-DOS.

    Returns a JSON-ready dict: ``rows`` (phase, T, P_GPa, G_DDOS, sigma_DDOS, G_TI, sigma_TI,
    dG, z, V_DDOS, sigma_V_DDOS, V_MD, sigma_V_MD, dV_rel, solved, reasons, within_target,
    covered) and ``summary`` (max |dG| and |dV| over solved rows, coverage, targets met).
    """
    loaded = load_pressure_phases([archive], conventions=Conventions(modes="3N-3"))
    names = list(phases) if phases else list(loaded)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    temps = sorted(float(t) for t in temperatures)
    element = potential.elements[0]
    rows = []
    for name in names:
        phase = loaded[name]
        for est in phase.estimators:
            check_potential(potential, est.phase_volume)
        atoms = reference_atoms(phase.reference, element)
        for p_gpa in pressures_gpa:
            p = float(p_gpa) * GPA_TO_EV_PER_A3
            tag = f"{Path(archive).stem}_{name}_{p_gpa:g}GPa"
            truth = gibbs_free_energy(atoms, potential, temps, p, repeats=repeats,
                                      conventions=Conventions(modes="3N-3"), steps=steps,
                                      seed=seed, checkpoint=out / f"{tag}.json",
                                      progress=progress, npt_steps=npt_steps)
            ddos = phase.predict(potential.theta, temps, [p], beta0=potential.beta0())
            for k, t in enumerate(temps):
                g_ti, s_ti = float(truth.G[k]), float(truth.sigma[k])
                v_md = float(truth.points[k].volume)
                g_d, s_d = float(ddos.G[0, k, 0]), float(ddos.sigma_G[0, k, 0])
                dg = g_d - g_ti
                sigma = float(np.hypot(s_d, s_ti))
                v_d = float(ddos.volume[0, k, 0])
                dv = (v_d - v_md) / v_md
                solved = bool(ddos.solved[0, k, 0])
                rows.append({
                    "phase": name, "T": t, "P_GPa": float(p_gpa), "G_DDOS": g_d,
                    "sigma_DDOS": s_d, "G_TI": g_ti, "sigma_TI": s_ti, "dG": dg,
                    "z": dg / sigma if sigma > 0 else float("nan"), "V_DDOS": v_d,
                    "sigma_V_DDOS": float(ddos.sigma_volume[0, k, 0]), "V_MD": v_md,
                    "sigma_V_MD": float(truth.points[k].sigma_volume), "dV_rel": dv,
                    "solved": solved,
                    "reasons": ddos.reasons(0, k, 0),
                    "within_target": bool(abs(dg) <= G_TARGET and abs(dv) <= V_TARGET),
                    "covered": bool(abs(dg) <= Z90 * sigma)})
    ok = [r for r in rows if r["solved"]]
    summary = {"rows": len(rows), "solved": len(ok)}
    if ok:
        coverage = float(np.mean([r["covered"] for r in ok]))
        summary.update(
            max_abs_dG_eV=max(abs(r["dG"]) for r in ok),
            max_abs_dV_rel=max(abs(r["dV_rel"]) for r in ok), coverage=coverage,
            targets_met={"G": all(abs(r["dG"]) <= G_TARGET for r in ok),
                         "V": all(abs(r["dV_rel"]) <= V_TARGET for r in ok),
                         "coverage": coverage >= COVERAGE_TARGET})
    return {"archive": str(archive), "potential": potential.name, "rows": rows,
            "summary": summary, "targets": {"G_eV": G_TARGET, "V_rel": V_TARGET,
                                            "coverage": COVERAGE_TARGET, "z90": Z90},
            "conventions": "G^(3N-3): COM fixed, classical, per atom"}
