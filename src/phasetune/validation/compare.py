"""D-DOS against TI: per-(phase, T, model) deviations, ΔF between phases, coverage and cost.

Deviation d = F_DDOS − F_TI (eV/atom, COM-fixed convention on both sides) with the combined
standard error σ = (σ_DDOS² + σ_TI²)^{1/2}.  σ_DDOS is the estimator's full error bar: σ_F
(score-fit statistics, widened by the α smoother's lack of fit) and the score-degree indicator
|F_K − F_{K±2}| (:meth:`~phasetune.estimator.ddos.DDOSEstimator.alternative`), in quadrature.

Targets (issue 6): |d| ≤ 2 meV/atom on absolute
free energies and ≤ 1 meV/atom on ΔF between phases where the estimator reports ``solved``; the
error bars "cover" a deviation when |d| ≤ z₉₀·σ with z₉₀ = 1.645 (a 90 % interval), and must
cover at least 90 % of the solved cases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from ..conventions import Conventions
from ..estimator.ddos import DDOSEstimator
from ..estimator.store import check_potential, load_estimators
from ..potentials.linear import LinearPotential

ABS_TARGET = 2e-3
"""|F_DDOS − F_TI| target on absolute free energies, eV/atom."""
DIFF_TARGET = 1e-3
"""|ΔF_DDOS − ΔF_TI| target on free-energy differences between phases, eV/atom."""
Z90 = 1.645
COVERAGE_TARGET = 0.9


@dataclass
class Comparison:
    """Rows of absolute and between-phase comparisons plus summary figures.

    Attributes:
        rows: one dict per (phase, T, model): F_DDOS, sigma_DDOS, solved, reasons, F_TI,
            sigma_TI, deviation, sigma, z, within_target, covered (eV/atom where applicable).
        differences: one dict per (phase pair, T, model) with the same keys for ΔF = F_b − F_a.
        summary: counts, max |d|, coverage, and which targets are met.
    """

    rows: list[dict]
    differences: list[dict]
    summary: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"rows": self.rows, "differences": self.differences, "summary": self.summary,
                "targets": {"absolute_eV": ABS_TARGET, "difference_eV": DIFF_TARGET,
                            "coverage": COVERAGE_TARGET, "z90": Z90}}


def ddos_estimators(archive, potential: LinearPotential) -> dict[str, DDOSEstimator]:
    """Score-route estimators of every phase in the COM-fixed convention of TI (3N − 3)."""
    estimators = load_estimators(archive, conventions=Conventions(modes="3N-3"))
    for est in estimators.values():
        check_potential(potential, est.phase_volume)
    return estimators


def _row(kind: dict, f_d: float, s_d: float, solved: bool, f_t: float, s_t: float,
         target: float) -> dict:
    dev = f_d - f_t
    sigma = float(np.hypot(s_d, s_t))
    return {**kind, "F_DDOS": f_d, "sigma_DDOS": s_d, "solved": bool(solved), "F_TI": f_t,
            "sigma_TI": s_t, "deviation": dev, "sigma": sigma,
            "z": dev / sigma if sigma > 0 else float("inf"),
            "within_target": bool(abs(dev) <= target), "covered": bool(abs(dev) <= Z90 * sigma)}


def compare(estimators: dict[str, DDOSEstimator], thetas: np.ndarray, beta0: float,
            ti: dict[tuple[str, float], dict], labels: list[str] | None = None) -> Comparison:
    """Compare D-DOS with TI results.

    Args:
        estimators: phase → estimator (3N − 3 convention).
        thetas: (n_models, N_D), row 0 the unperturbed θ0.
        beta0: β0 of the potential, eV/atom.
        ti: (phase, T) → the dict of :func:`~phasetune.validation.runs.ti_for_phase` (``F`` and
            ``sigma`` per model, eV/atom); missing entries are simply not compared.
        labels: one name per model (default θ0, θ1, …).
    """
    labels = labels or ["θ0", *(f"θ{m}" for m in range(1, len(thetas)))]
    temps = sorted({t for _, t in ti})
    rows, by_key = [], {}
    for phase, est in estimators.items():
        phase_temps = [t for t in temps if (phase, t) in ti]
        if not phase_temps:
            continue
        pred = est.predict(thetas, phase_temps, beta0=beta0)
        alt = est.alternative().predict(thetas, phase_temps, beta0=beta0)
        systematic = np.abs(pred.F_total - alt.F_total)  # the degree indicator of systematics()
        for i, t in enumerate(phase_temps):
            res = ti[(phase, t)]
            for m in range(len(thetas)):
                if not np.isfinite(res["F"][m]):
                    continue  # not run by TI at this temperature
                reasons = pred.reasons(i, m)
                stat, sys_ = float(pred.sigma_F[i, m]), float(systematic[i, m])
                row = _row({"phase": phase, "T": t, "model": labels[m], "reasons": reasons,
                            "sigma_DDOS_statistical": stat, "sigma_DDOS_degree": sys_},
                           float(pred.F_total[i, m]), float(np.hypot(stat, sys_)),
                           bool(pred.solved[i, m]), float(res["F"][m]), float(res["sigma"][m]),
                           ABS_TARGET)
                rows.append(row)
                by_key[(phase, t, m)] = row
    differences = []
    for a, b in combinations(list(estimators), 2):
        for t in temps:
            for m in range(len(thetas)):
                ra, rb = by_key.get((a, t, m)), by_key.get((b, t, m))
                if ra is None or rb is None:
                    continue
                differences.append(_row(
                    {"phase": f"{b}−{a}", "T": t, "model": labels[m], "reasons": []},
                    rb["F_DDOS"] - ra["F_DDOS"], float(np.hypot(ra["sigma_DDOS"],
                                                                rb["sigma_DDOS"])),
                    ra["solved"] and rb["solved"], rb["F_TI"] - ra["F_TI"],
                    float(np.hypot(ra["sigma_TI"], rb["sigma_TI"])), DIFF_TARGET))
    return Comparison(rows, differences, summarize(rows, differences))


def summarize(rows: list[dict], differences: list[dict]) -> dict:
    """Counts, worst deviations and coverage over the solved cases."""
    def part(items: list[dict], target: float) -> dict:
        solved = [r for r in items if r["solved"]]
        devs = np.array([abs(r["deviation"]) for r in solved])
        out = {"cases": len(items), "solved": len(solved),
               "max_abs_deviation": float(devs.max()) if devs.size else None,
               "rms_deviation": float(np.sqrt(np.mean(devs**2))) if devs.size else None,
               "within_target": int(sum(r["within_target"] for r in solved)),
               "covered": int(sum(r["covered"] for r in solved)),
               "target": target}
        out["coverage"] = out["covered"] / len(solved) if solved else None
        out["target_met"] = bool(solved) and out["within_target"] == len(solved)
        return out

    a, d = part(rows, ABS_TARGET), part(differences, DIFF_TARGET)
    coverage = [r["covered"] for r in rows + differences if r["solved"]]
    return {"absolute": a, "difference": d,
            "coverage": float(np.mean(coverage)) if coverage else None,
            "coverage_met": bool(coverage) and float(np.mean(coverage)) >= COVERAGE_TARGET}
