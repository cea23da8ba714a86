"""Ground truth of the tuned X_Fe BCC→FCC line: T_c^TI(P) by reversible scaling (issue 13).

For each pressure P and each phase (BCC 128 atoms 4×4×4, FCC 108 atoms 3×3×3, the cells of
``pressure-output/fe.h5``) one :func:`phasetune.ti.reversible_scaling` run: the anchor
:func:`phasetune.ti.gibbs_free_energy` (NPT mean cell + λ-TI + NVT pressure check) at T0 and a
forward + backward sweep at fixed P from T0 to T1.  Both phases share T0, T1 and the grid, so

    ΔG(T) = G_fcc(T) − G_bcc(T)      (G^(3N−3) = F^(3N−3)(⟨V⟩) + P⟨V⟩, and G^(3N) alongside)

is compared point by point and T_c^TI(P) is its zero (linear interpolation on a 10 K grid).

Error of T_c.  At each T the σ of G of one phase is the anchor's σ (× T/T0) and half the
forward/backward hysteresis (/λ) in quadrature (:mod:`phasetune.ti.scaling`); the two phases are
independent runs, so σ_ΔG = (σ_bcc² + σ_fcc²)^½ and σ_T = σ_ΔG(T_c)/|dΔG/dT| (= σ_ΔG/|ΔS|),
reported split into its anchor and hysteresis parts.  The hysteresis is treated as a random
error although it is a dissipative bias of the same sign in both phases (so it partly cancels in
ΔG): the crossings of the forward-only and backward-only estimates (``T_c_forward_only``,
``T_c_backward_only``) are given as a check on that.  Where ΔG ± σ_ΔG does not change sign inside
the sweep the band is reported as open on that side.

The window is centred on the D-DOS line: T0 = T_mid − 200 K, T1 = T_mid + 200 K with T_mid the
mean of the D-DOS T_c(P) in the 3N and 3N−3 conventions (they differ by 75–170 K because ΔS is
only ≈ 0.13 k_B and the two cells have different N); starting volumes are the D-DOS V*(T0, P).

Resumable: every finished run is cached as ``<out>/runs/fe_<phase>_P<P>GPa.json``; unfinished
runs resume from the checkpoints under ``<out>/checkpoints/`` (NPT, TI per repeat, pressure
check, sweeps), and a changed setting is refused by the checkpoint store.  ``<out>/fe_line.json``
is rewritten after each pressure.

Measured (2026-12-03, settings below; ~600 CPU s per BCC run, ~435 per FCC run; 3080 CPU s
in all), T_c^TI ± σ against D-DOS (cumulant route), K:

    P (GPa)  TI 3N−3       D-DOS 3N−3          TI 3N        D-DOS 3N
    0        1334 ± 166    1260                1204 ± 131   1185
    0.5      1457 ± 304    1395                1329 ± 134   1291
    1        1568 ± 187    none (ΔG ≥ +0.3 meV up to 1615 K, then BCC unsolved; the listed
                           1570 K "crossing" is a one-point jump of the FCC surface)
                                               1426 ± 127   1401

ΔG_TI − ΔG_DDOS stays within σ_ΔG at every grid point (|Δ| ≤ 1.0 meV/atom, σ_ΔG 0.3–1.9);
the T_c errors are large only because ΔS ≈ 0.06–0.13 k_B: 1 meV/atom in ΔG is ≈ 100 K.  The
hysteresis of 2500-step sweeps dominates (forward/backward volumes differ by ≈ 1 % in BCC);
halving σ_T needs ≈ 4× longer sweeps and more TI repeats.

Run (from the repository root; P = 0 first, both phases in parallel, then 1, then 0.5 GPa):

    PYTHONPATH=src OMP_NUM_THREADS=1 python scripts/pressure/fe_line_truth.py \
        [--out pressure-output/truth/fe] [--pressures 0 1 0.5] [--jobs 2] [--summary-only]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
MAIN_OUTPUT = Path("/work/main/pressure-output")
POTENTIAL = MAIN_OUTPUT / "fe_tuned" / "Fe_X_tuned_1185K.snap"
ARCHIVE = MAIN_OUTPUT / "fe.h5"
CELLS = {"bcc": 4, "fcc": 3}
START_VOLUME = {"bcc": 9.6, "fcc": 10.3}
"""Fallback starting volumes, Å³/atom: D-DOS V*(1185 K, 0 GPa)."""
DDOS_QUOTED = {"route": "cumulant", "convention": "3N (as quoted in the brief)",
               "T_c_K": {"0": 1185.0, "1": 1400.6}, "P_c_GPa_at_1300K": 0.54,
               "slope_K_per_GPa": 216.0, "dV_A3_per_atom": 0.39, "dS_kB": 0.13}
DDOS_TC = {"3N": {0.0: 1185.0, 0.5: 1291.3, 1.0: 1400.6},
           "3N-3": {0.0: 1260.2, 0.5: 1395.0, 1.0: 1570.2}}
"""D-DOS T_c(P), K (cumulant route, 5 K grid; recomputed by the summary): only the window."""
HALF_WINDOW = 200.0
GRID_STEP = 10.0

SETTINGS = {
    "npt_steps": 2000,           # + a quarter equilibration; pressure damping below
    "pressure_damping_ps": 0.5,
    "check_steps": 600,
    "repeats": 2,
    "lambda": {"n_nodes": 5, "equilibration": 100, "production": 300, "endpoint": False},
    "sweep": {"sweep_steps": 2500, "equilibration": 300},
    "seed": 20261203,
}


def window(p_gpa: float) -> tuple[float, float]:
    mid = 0.5 * (np.interp(p_gpa, list(DDOS_TC["3N"]), list(DDOS_TC["3N"].values()))
                 + np.interp(p_gpa, list(DDOS_TC["3N-3"]), list(DDOS_TC["3N-3"].values())))
    mid = 5.0 * round(mid / 5.0)
    return mid - HALF_WINDOW, mid + HALF_WINDOW


def tag(phase: str, p_gpa: float) -> str:
    return f"fe_{phase}_P{p_gpa:g}GPa"


def run_path(out: Path, phase: str, p_gpa: float) -> Path:
    return out / "runs" / f"{tag(phase, p_gpa)}.json"


def write_json(path: Path, data: dict) -> None:
    from phasetune.jsonutil import to_jsonable

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(to_jsonable(data), indent=1))
    os.replace(tmp, path)


# -- D-DOS -------------------------------------------------------------------------------------
def ddos_numbers(out: Path, pressures: list[float]) -> dict:
    """D-DOS T_c(P) in both conventions and V*(T0, P) per phase (cached in ``ddos.json``)."""
    path = out / "ddos.json"
    cached = json.loads(path.read_text()) if path.exists() else {}
    if all(f"{p:g}" in cached.get("points", {}) for p in pressures):
        return cached
    from phasetune.constants import GPA_TO_EV_PER_A3
    from phasetune.conventions import Conventions
    from phasetune.potentials.registry import load_potential
    from phasetune.pressure.loading import load_pressure_phases

    pot = load_potential(str(POTENTIAL))
    temps = np.arange(900.0, 1800.0 + 1e-9, 2.5)
    points = cached.get("points", {})
    phases_by = {m: load_pressure_phases([ARCHIVE], conventions=Conventions(modes=m),
                                         route="cumulant") for m in ("3N", "3N-3")}
    for p in pressures:
        row: dict = {"P_GPa": p, "T0": window(p)[0], "T1": window(p)[1]}
        pe = p * GPA_TO_EV_PER_A3
        for modes, ph in phases_by.items():
            g = {k: ph[k].predict(pot.theta, temps, [pe], beta0=pot.beta0()) for k in CELLS}
            d = (np.asarray(g["fcc"].G) - np.asarray(g["bcc"].G)).ravel()
            row[f"T_c_{modes}"] = crossings(temps, d)
            if modes == "3N-3":
                t0 = np.array([row["T0"]])
                row["V_start"] = {k: float(np.asarray(ph[k].predict(
                    pot.theta, t0, [pe], beta0=pot.beta0()).volume).ravel()[0]) for k in CELLS}
        points[f"{p:g}"] = row
    data = {"route": "cumulant", "archive": str(ARCHIVE), "potential": str(POTENTIAL),
            "points": points}
    write_json(path, data)
    return data


def ddos_grid(out: Path, p_gpa: float, temps: np.ndarray) -> dict:
    """D-DOS ΔG = G_fcc − G_bcc (meV/atom, both conventions) on the TI grid (cached)."""
    path = out / f"ddos_grid_P{p_gpa:g}GPa.json"
    if path.exists():
        cached = json.loads(path.read_text())
        if np.allclose(cached["T"], temps):
            return cached
    from phasetune.constants import GPA_TO_EV_PER_A3
    from phasetune.conventions import Conventions
    from phasetune.potentials.registry import load_potential
    from phasetune.pressure.loading import load_pressure_phases

    pot = load_potential(str(POTENTIAL))
    data: dict = {"T": [float(t) for t in temps]}
    for modes in ("3N-3", "3N"):
        ph = load_pressure_phases([ARCHIVE], conventions=Conventions(modes=modes),
                                  route="cumulant")
        g = {k: ph[k].predict(pot.theta, temps, [p_gpa * GPA_TO_EV_PER_A3], beta0=pot.beta0())
             for k in CELLS}
        data[f"dG_meV_{modes}"] = (1e3 * (np.asarray(g["fcc"].G) - np.asarray(g["bcc"].G))
                                   ).ravel().tolist()
        if modes == "3N-3":
            data["V"] = {k: np.asarray(g[k].volume).ravel().tolist() for k in CELLS}
    write_json(path, data)
    return data


def crossings(temps: np.ndarray, d: np.ndarray) -> list[float]:
    """Temperatures where d changes sign (linear interpolation), K."""
    ok = np.isfinite(d)
    t, d = np.asarray(temps)[ok], np.asarray(d)[ok]
    out = []
    for i in np.where(np.sign(d[:-1]) * np.sign(d[1:]) < 0)[0]:
        out.append(float(t[i] - d[i] * (t[i + 1] - t[i]) / (d[i + 1] - d[i])))
    return out


# -- one run -----------------------------------------------------------------------------------
def one_run(out: Path, phase: str, p_gpa: float) -> dict:
    """Reversible scaling for one (phase, P); cached; resumes from the checkpoints."""
    path = run_path(out, phase, p_gpa)
    if path.exists():
        return json.loads(path.read_text())
    cpu0 = time.process_time()
    ledger = out / "checkpoints" / f"{tag(phase, p_gpa)}.cpu.json"
    ledger.parent.mkdir(parents=True, exist_ok=True)
    if running(out, phase, p_gpa):
        raise SystemExit(f"{tag(phase, p_gpa)} is running already "
                         f"(pid in {lock(out, phase, p_gpa)})")
    lock(out, phase, p_gpa).write_text(str(os.getpid()))
    previous = json.loads(ledger.read_text()) if ledger.exists() else []
    try:
        return _one_run(out, phase, p_gpa, path, cpu0, previous)
    finally:
        if not path.exists():  # unfinished: keep the CPU spent for the total
            ledger.write_text(json.dumps(previous + [time.process_time() - cpu0]))
        lock(out, phase, p_gpa).unlink(missing_ok=True)


def lock(out: Path, phase: str, p_gpa: float) -> Path:
    return out / "checkpoints" / f"{tag(phase, p_gpa)}.lock"


def running(out: Path, phase: str, p_gpa: float) -> bool:
    """A live process holds the run's lock file (pid)."""
    path = lock(out, phase, p_gpa)
    try:
        os.kill(int(path.read_text()), 0)
    except (OSError, ValueError):
        return False
    return True


def _one_run(out: Path, phase: str, p_gpa: float, path: Path, cpu0: float,
             previous: list[float]) -> dict:
    from phasetune.constants import GPA_TO_EV_PER_A3
    from phasetune.conventions import Conventions
    from phasetune.potentials.registry import load_potential
    from phasetune.structures.crystals import crystal
    from phasetune.ti import SweepSettings, reversible_scaling
    from phasetune.ti.barostat import NPTSettings
    from phasetune.ti.lambda_path import LambdaSettings
    from phasetune.ti.scaling import _at, cumulative_work, scaling_free_energy

    t0, t1 = window(p_gpa)
    grid = np.arange(t0, t1 + 1e-9, GRID_STEP)
    ddos = ddos_numbers(out, [p_gpa])["points"][f"{p_gpa:g}"]
    v_start = ddos.get("V_start", {}).get(phase, float("nan"))
    if not np.isfinite(v_start):
        v_start = START_VOLUME[phase]
    atoms = crystal(phase, "Fe", volume=v_start, cells=CELLS[phase])
    pot = load_potential(str(POTENTIAL))
    s = SETTINGS
    pressure = p_gpa * GPA_TO_EV_PER_A3
    seed = s["seed"] + 1000 * list(CELLS).index(phase) + int(round(100 * p_gpa))
    ckpt = out / "checkpoints" / f"{tag(phase, p_gpa)}.json"
    rs = reversible_scaling(
        atoms, pot, t0, t1, pressure, grid,
        sweep=SweepSettings(**s["sweep"]), method="lambda", repeats=s["repeats"],
        conventions=Conventions(modes="3N-3"), seed=seed, checkpoint=ckpt, progress="lines",
        npt_steps=s["npt_steps"],
        npt_settings=NPTSettings(pressure_damping=s["pressure_damping_ps"]),
        lambda_settings=LambdaSettings(**s["lambda"]), check_steps=s["check_steps"])
    res = rs.to_dict()
    # forward-only and backward-only G^(3N-3) (the hysteresis check of the crossing)
    lam_grid = t0 / grid
    legs = {}
    for d in ("forward", "backward"):
        leg = rs.sweeps[d]
        lam = np.array(leg["lam"])
        y = np.array(leg["U"]) + pressure * np.array(leg["V"])
        legs[d] = _at(lam_grid, lam, cumulative_work(lam, y))
    g0 = rs.anchor.points[0].variants()["G_3N-3"]
    n = len(atoms)
    g_fwd = scaling_free_energy(grid, t0, g0, legs["forward"], n, rs.n_cell)
    # W_bwd(λ1 → λ) is accumulated from the hot end: W_bwd(λ → 1) = W_bwd(λ1 → 1) − W_bwd(λ1 → λ)
    w_bwd = legs["backward"][0] - legs["backward"]
    g_bwd = scaling_free_energy(grid, t0, g0, -w_bwd, n, rs.n_cell)
    anchor = res["anchor"]["temperatures"][0]
    cpu_this = time.process_time() - cpu0
    data = {
        "kind": "reversible_scaling", "system": "fe_tuned", "phase": phase, "n_atoms": n,
        "potential": str(POTENTIAL), "P_GPa": p_gpa, "T0": t0, "T1": t1,
        "V_start": v_start, "seed": seed, "settings": SETTINGS,
        "grid": [{"T": r["T"], "G_3N-3": r["G_3N-3"], "G_3N": r["G_3N"],
                  "sigma": r["sigma"], "sigma_anchor": r["sigma_anchor"],
                  "sigma_hysteresis": r["sigma_hysteresis"],
                  "G_3N-3_forward_only": float(gf), "G_3N-3_backward_only": float(gb),
                  "volume": r["volume"], "volume_forward": r["volume_forward"],
                  "volume_backward": r["volume_backward"]}
                 for r, gf, gb in zip(res["temperatures"], g_fwd, g_bwd, strict=True)],
        "anchor": {"G_3N-3": anchor["G_3N-3"], "G_3N": anchor["G_3N"],
                   "sigma": anchor["sigma"], "sigma_F": anchor["sigma_F"],
                   "volume": anchor["volume"], "sigma_volume": anchor["sigma_volume"],
                   "pressure_check": anchor["pressure_check"],
                   "npt_pressure_mean_GPa": anchor["npt"].get("pressure_mean_GPa"),
                   "npt_equilibrated": anchor["npt"]["series"]["equilibrated"],
                   "bulk_modulus_GPa": anchor["npt"].get("bulk_modulus_GPa"),
                   "npt_diagnostics": anchor["npt"].get("diagnostics"),
                   "ti_warnings": anchor["ti"].get("warnings")},
        "cpu_seconds": {"npt": anchor["npt"].get("cpu_seconds"),
                        "ti": anchor["ti"].get("cpu_seconds"),
                        "sweeps": res["settings"].get("cpu_seconds"),
                        "this_process": cpu_this,
                        "earlier_processes": float(sum(previous)),
                        "total": cpu_this + float(sum(previous))},
        "sweep_diagnostics": res["settings"].get("diagnostics"),
        "warnings": res["warnings"], "result": res}
    write_json(path, data)
    return data


# -- the line ----------------------------------------------------------------------------------
def transition(bcc: dict, fcc: dict) -> dict:
    """T_c^TI from ΔG = G_fcc − G_bcc on the common grid (module doc)."""
    t = np.array([r["T"] for r in bcc["grid"]])
    if not np.allclose(t, [r["T"] for r in fcc["grid"]]):
        raise SystemExit("the two phases were run on different grids")

    def col(run: dict, key: str) -> np.ndarray:
        return np.array([r[key] for r in run["grid"]])

    out: dict = {"T0": bcc["T0"], "T1": bcc["T1"]}
    sig_a = np.hypot(col(bcc, "sigma_anchor"), col(fcc, "sigma_anchor"))
    sig_h = np.hypot(col(bcc, "sigma_hysteresis"), col(fcc, "sigma_hysteresis"))
    sig = np.hypot(sig_a, sig_h)
    dv = col(fcc, "volume") - col(bcc, "volume")
    for conv in ("3N-3", "3N"):
        d = col(fcc, f"G_{conv}") - col(bcc, f"G_{conv}")
        roots = crossings(t, d)
        row: dict = {"dG_meV": (1e3 * d).round(3).tolist(), "crossings": roots}
        # a smooth (quadratic, 1/σ-weighted) fit of ΔG(T): its zero is T_c where the noisy
        # pointwise ΔG crosses zero several times (ΔS ≈ 0.1 k_B makes ΔG nearly flat)
        coef = np.polyfit(t, d, 2, w=1.0 / sig)
        fit_roots = sorted(float(r.real) for r in np.roots(coef)
                           if abs(r.imag) < 1e-9 and t[0] <= r.real <= t[-1])
        row["T_c_quadratic_fit"] = fit_roots
        if roots:
            tc = roots[0]
            if len(roots) > 1:
                near = [r for r in fit_roots if roots[0] <= r <= roots[-1]]
                tc = near[0] if near else float(np.median(roots))
                row["note"] = (f"ΔG crosses zero {len(roots)} times between {roots[0]:.0f} and "
                               f"{roots[-1]:.0f} K (|ΔG| < σ there): T_c is the zero of the "
                               "quadratic fit inside that range")
            slope = float(np.polyfit(t, d, 1)[0]) if len(t) > 2 else float("nan")
            i = int(np.clip(np.searchsorted(t, tc), 1, len(t) - 1))
            local = (d[i] - d[i - 1]) / (t[i] - t[i - 1])
            s_at = float(np.interp(tc, t, sig))
            row.update({
                "T_c": tc, "sigma_T_c": s_at / abs(slope),
                "sigma_T_c_anchor": float(np.interp(tc, t, sig_a)) / abs(slope),
                "sigma_T_c_hysteresis": float(np.interp(tc, t, sig_h)) / abs(slope),
                "sigma_dG_meV_at_T_c": 1e3 * s_at,
                "dS_kB_fit": -slope / 8.617333262e-5, "dS_kB_local": -local / 8.617333262e-5,
                "dV_A3_per_atom": float(np.interp(tc, t, dv)),
                "band": {"dG_plus_sigma": crossings(t, d + sig),
                         "dG_minus_sigma": crossings(t, d - sig)}})
            row["clapeyron_K_per_GPa"] = (row["dV_A3_per_atom"] * 6.241509074e-3
                                          / (row["dS_kB_fit"] * 8.617333262e-5) * 1.0)
        else:
            row["T_c"] = None
            row["note"] = ("ΔG does not change sign in the sweep: T_c lies "
                           + ("above" if d[-1] > 0 else "below") + " the window"
                           if d[0] * d[-1] > 0 else "no clean crossing")
        if conv == "3N-3":
            for which in ("forward_only", "backward_only"):
                dd = col(fcc, f"G_3N-3_{which}") - col(bcc, f"G_3N-3_{which}")
                row[f"T_c_{which}"] = crossings(t, dd)
        out[conv] = row
    return out


def summary(out: Path, pressures: list[float]) -> dict:
    runs = {(ph, p): json.loads(run_path(out, ph, p).read_text())
            for p in pressures for ph in CELLS if run_path(out, ph, p).exists()}
    ddos = ddos_numbers(out, pressures)
    points = []
    for p in pressures:
        row: dict = {"P_GPa": p, "D_DOS": ddos["points"].get(f"{p:g}")}
        if all((ph, p) in runs for ph in CELLS):
            row["TI"] = transition(runs["bcc", p], runs["fcc", p])
            t = np.array([r["T"] for r in runs["bcc", p]["grid"]])
            dd = ddos_grid(out, p, t)
            for conv in ("3N-3", "3N"):
                ti = np.array(row["TI"][conv]["dG_meV"])
                ref = np.array(dd[f"dG_meV_{conv}"], dtype=float)
                row["TI"][conv]["dG_DDOS_meV"] = ref.round(3).tolist()
                row["TI"][conv]["dG_TI_minus_DDOS_meV"] = {
                    "at_T0": float(ti[0] - ref[0]), "mean": float(np.nanmean(ti - ref)),
                    "max_abs": float(np.nanmax(np.abs(ti - ref)))}
            row["TI"]["sigma_dG_meV"] = (1e3 * np.hypot(
                [r["sigma"] for r in runs["bcc", p]["grid"]],
                [r["sigma"] for r in runs["fcc", p]["grid"]])).round(3).tolist()
            row["TI"]["T"] = t.tolist()
            row["V_anchor_vs_DDOS"] = {
                ph: {"V_NPT": runs[ph, p]["anchor"]["volume"],
                     "sigma_V_NPT": runs[ph, p]["anchor"]["sigma_volume"],
                     "V_DDOS": float(dd["V"][ph][0]),
                     "dV_percent": 100 * (dd["V"][ph][0] - runs[ph, p]["anchor"]["volume"])
                     / runs[ph, p]["anchor"]["volume"]} for ph in CELLS}
        else:
            row["TI"] = None
            row["missing"] = [ph for ph in CELLS if (ph, p) not in runs]
        row["runs"] = {ph: {k: runs[ph, p][k] for k in
                            ("n_atoms", "T0", "T1", "V_start", "seed", "anchor", "cpu_seconds",
                             "warnings", "sweep_diagnostics")}
                       for ph in CELLS if (ph, p) in runs}
        points.append(row)
    data = {
        "what": "T_c^TI(P) of the tuned X_Fe (BCC→FCC) by reversible scaling per phase and "
                "pressure; ΔG = G_fcc − G_bcc; main comparison in G_3N-3 (COM fixed), G_3N "
                "alongside",
        "potential": str(POTENTIAL), "archive": str(ARCHIVE),
        "cells": {"bcc": "4×4×4, 128 atoms", "fcc": "3×3×3, 108 atoms"},
        "settings": SETTINGS, "grid_step_K": GRID_STEP, "half_window_K": HALF_WINDOW,
        "error_model": "σ_G per phase = anchor σ·T/T0 ⊕ ½|hysteresis|/λ; σ_ΔG = σ_bcc ⊕ σ_fcc "
                       "(independent runs); σ_Tc = σ_ΔG(T_c)/|dΔG/dT| with the slope of a "
                       "linear fit of ΔG over the window; forward-only/backward-only crossings "
                       "as the hysteresis check",
        "D_DOS_quoted": DDOS_QUOTED,
        "points": points,
        "cpu_seconds_total": float(sum(r["cpu_seconds"]["total"] for r in runs.values())),
    }
    write_json(out / "fe_line.json", data)
    return data


def print_table(data: dict) -> None:
    print("| P (GPa) | T_c^TI 3N-3 (K) | D-DOS 3N-3 | T_c^TI 3N (K) | D-DOS 3N | "
          "σ anchor / hyst (K) | fwd / bwd only (K) | CPU bcc / fcc (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for row in data["points"]:
        d = row["D_DOS"] or {}
        ti = row["TI"]
        cpu = " / ".join(f"{row['runs'][ph]['cpu_seconds']['total']:.0f}"
                         if ph in row["runs"] else "—" for ph in CELLS)

        def fmt(conv: str, ti: dict | None = ti) -> str:
            if ti is None:
                return "—"
            r = ti[conv]
            if r.get("T_c") is None:
                return r.get("note", "—")
            many = len(r["crossings"]) > 1
            return (f"{r['T_c']:.0f} ± {r['sigma_T_c']:.0f}"
                    + (f" (crossings {r['crossings'][0]:.0f}–{r['crossings'][-1]:.0f})"
                       if many else ""))

        def dd(conv: str, d: dict = d) -> str:
            v = d.get(f"T_c_{conv}") or []
            return ", ".join(f"{x:.1f}" for x in v) or "—"

        split = fwd = "—"
        if ti is not None and ti["3N-3"].get("T_c") is not None:
            r = ti["3N-3"]
            split = f"{r['sigma_T_c_anchor']:.0f} / {r['sigma_T_c_hysteresis']:.0f}"
            fwd = (f"{', '.join(f'{x:.0f}' for x in r['T_c_forward_only']) or '—'} / "
                   f"{', '.join(f'{x:.0f}' for x in r['T_c_backward_only']) or '—'}")
        print(f"| {row['P_GPa']:g} | {fmt('3N-3')} | {dd('3N-3')} | {fmt('3N')} | {dd('3N')} | "
              f"{split} | {fwd} | {cpu} |")


def schedule(out: Path, pressures: list[float], jobs: int) -> None:
    """Run every missing (phase, P) in the order of ``pressures`` (both phases of a pressure
    before the next), at most ``jobs`` MD processes at once (runs started by another driver and
    still alive count); the summary is rewritten whenever a pressure is complete."""
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    queue = [(ph, p) for p in pressures for ph in CELLS if not run_path(out, ph, p).exists()]
    active: list[tuple[str, float, subprocess.Popen | None]] = []
    reported: set[float] = set()
    while queue or active:
        still = []
        for ph, p, proc in active:
            alive = proc.poll() is None if proc is not None else running(out, ph, p)
            if alive:
                still.append((ph, p, proc))
            elif not run_path(out, ph, p).exists():
                print(f"{tag(ph, p)} did not finish (see {logs})", flush=True)
        active = still
        for p in pressures:
            done = all(run_path(out, ph, p).exists() for ph in CELLS)
            if done and p not in reported:
                reported.add(p)
                summary(out, pressures)
                print(f"P = {p:g} GPa finished", flush=True)
        while queue and len(active) < jobs:
            ph, p = queue.pop(0)
            if running(out, ph, p):  # started elsewhere: wait for it
                active.append((ph, p, None))
                print(f"waiting for {tag(ph, p)} (running)", flush=True)
                continue
            log = (logs / f"{tag(ph, p)}.log").open("a")
            proc = subprocess.Popen(
                [sys.executable, __file__, "--out", str(out), "--run", ph, f"{p:g}"],
                stdout=log, stderr=subprocess.STDOUT)
            active.append((ph, p, proc))
            print(f"started {tag(ph, p)} (pid {proc.pid})", flush=True)
        time.sleep(5)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "pressure-output" / "truth" / "fe")
    ap.add_argument("--pressures", type=float, nargs="+", default=[0.0, 1.0, 0.5],
                    help="GPa, run in this order")
    ap.add_argument("--jobs", type=int, default=2, help="MD processes at once (≤ 2 here)")
    ap.add_argument("--summary-only", action="store_true")
    ap.add_argument("--run", nargs=2, metavar=("PHASE", "P_GPA"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    out = args.out.resolve()
    if args.run:
        one_run(out, args.run[0], float(args.run[1]))
        return
    ddos_numbers(out, args.pressures)
    if not args.summary_only:
        schedule(out, args.pressures, args.jobs)
    data = summary(out, args.pressures)
    print_table(data)
    print(out / "fe_line.json")


if __name__ == "__main__":
    main()
