#!/usr/bin/env python
"""Ground truth at fixed pressure for docs/pressure.md (issue 13, item 7): direct NPT MD ⟨V⟩(P, T)
and G(T) at P = 0 by reversible scaling, for BCC Mo (Mo_Chen_PRM2017) and BCC W
(W_2940_2017_2, SNAP + ZBL), 54 atoms (3×3×3 conventional cells).

Cases (run in this order by default; ``--cases`` selects):

* ``mo-expansion``: ⟨V⟩(T) of BCC Mo at P = 0, 300–2300 K (0.8 T_m; ``npt_volume``);
* ``mo-gibbs``: G(T) of BCC Mo at P = 0: anchor ``gibbs_free_energy`` at 300 K, one
  reversible-scaling round trip 300 → 2000 K reported on a 100-K grid, and a direct
  ``gibbs_free_energy`` at 1200 K as a check;
* ``w-expansion``: ⟨V⟩(T) of BCC W at P = 0, 300–2950 K (0.8 T_m);
* ``mo-pressure``: ⟨V⟩ of BCC Mo at 5 and 10 GPa, 300, 1200, 1800 K.

Resumable: every finished (system, phase, P, T) result is cached as JSON under
``<out>/runs/``; the TI anchor, the direct G and the sweep checkpoint their stages under
``<out>/checkpoints/``.  Kill the script at any time and rerun the same command: nothing finished
is redone.  Seeds derive from (seed, case, T, P), so an interrupted and an uninterrupted run give
the same numbers.  After every finished run the per-system summaries ``<out>/mo.json`` and
``<out>/w.json`` are rewritten from the cache (``--summary-only`` writes them without running MD).

Conventions (docs/ti.md §4, §11): classical, per atom, COM fixed, G^(3N−3) = F^(3N−3)(⟨V⟩) + P⟨V⟩
reported as ``G``; volumes Å³/atom, energies eV/atom, pressures GPa in file names and summaries.

Run (one process at a time; each MD run is single-threaded):
``PYTHONPATH=src OMP_NUM_THREADS=1 python scripts/pressure/ground_truth.py [--cases …]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from phasetune.constants import GPA_TO_EV_PER_A3
from phasetune.jsonutil import to_jsonable
from phasetune.potentials.registry import load_potential
from phasetune.structures.crystals import crystal
from phasetune.ti import SweepSettings, gibbs_free_energy, npt_volume, reversible_scaling

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PHASE = "bcc"
CELLS = 3


@dataclass(frozen=True)
class System:
    """One element: potential, starting-volume model V0·(1 + α_V(T − 300 K) − P/B0)."""

    name: str
    element: str
    potential: str
    v300: float      # Å³/atom at 300 K, P = 0 (rough; the barostat finds the real one)
    alpha_v: float   # 1/K, rough volumetric expansion
    b0_gpa: float    # GPa, rough bulk modulus

    def start_volume(self, temperature: float, pressure_gpa: float) -> float:
        return self.v300 * (1.0 + self.alpha_v * (temperature - 300.0)
                            - pressure_gpa / self.b0_gpa)

    def atoms(self, temperature: float, pressure_gpa: float):
        return crystal(PHASE, self.element, volume=self.start_volume(temperature, pressure_gpa),
                       cells=CELLS)


SYSTEMS = {
    "mo": System("mo", "Mo", "lammps:Mo_Chen_PRM2017", 15.88, 2.2e-5, 260.0),
    "w": System("w", "W", "lammps:W_2940_2017_2", 16.2, 1.8e-5, 300.0),
}


@dataclass(frozen=True)
class Expansion:
    """NPT ⟨V⟩ at each (P, T): ``npt_steps`` production steps, a quarter more equilibration."""

    system: str
    pressures_gpa: tuple[float, ...]
    temperatures: tuple[float, ...]


CASES = {
    "mo-expansion": Expansion("mo", (0.0,), (300.0, 600.0, 900.0, 1200.0, 1500.0, 1800.0,
                                             2100.0, 2300.0)),
    "mo-gibbs": None,
    "w-expansion": Expansion("w", (0.0,), (300.0, 800.0, 1300.0, 1800.0, 2400.0, 2950.0)),
    "mo-pressure": Expansion("mo", (5.0, 10.0), (300.0, 1200.0, 1800.0)),
}
CASE_TAGS = {name: i + 1 for i, name in enumerate(CASES)}
RS_T0, RS_T1, RS_DIRECT = 300.0, 2000.0, (1200.0,)


def derived_seed(seed: int, case: str, temperature: float, pressure_gpa: float) -> int:
    """A seed from (seed, case, T, P), independent of the order runs are done in."""
    ss = np.random.SeedSequence([seed, CASE_TAGS[case], int(round(temperature * 1000)),
                                 int(round(pressure_gpa * 1000)) + 10**7])
    return int(ss.generate_state(1)[0] & 0x7FFFFFFF)


def tag(system: str, kind: str, pressure_gpa: float, temperature: float) -> str:
    return f"{system}_{PHASE}_{kind}_P{pressure_gpa:g}GPa_T{temperature:g}K"


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(to_jsonable(payload), indent=1, ensure_ascii=False))
    tmp.replace(path)


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


# -- runs ---------------------------------------------------------------------------------------
def run_npt(system: System, case: str, pressure_gpa: float, temperature: float, steps: int,
            seed: int, runs: Path) -> dict:
    path = runs / f"{tag(system.name, 'npt', pressure_gpa, temperature)}.json"
    if path.exists():
        return json.loads(path.read_text())
    atoms = system.atoms(temperature, pressure_gpa)
    s = derived_seed(seed, case, temperature, pressure_gpa)
    log(f"NPT {system.name} {PHASE} P = {pressure_gpa:g} GPa T = {temperature:g} K "
        f"({steps} + {steps // 4} steps, seed {s})")
    res = npt_volume(atoms, load_potential(system.potential), temperature,
                     pressure_gpa * GPA_TO_EV_PER_A3, steps=steps, seed=s)
    payload = {"kind": "npt_volume", "system": system.name, "element": system.element,
               "phase": PHASE, "n_atoms": len(atoms), "potential": system.potential,
               "P_GPa": pressure_gpa, "T": temperature, "V": res.volume,
               "sigma_V": res.sigma_volume, "start_volume": system.start_volume(temperature,
                                                                             pressure_gpa),
               "cpu_seconds": res.cpu_seconds, "steps": steps, "seed": s,
               "units": {"V": "Å³/atom", "T": "K", "P_GPa": "GPa", "cpu_seconds": "s"},
               "result": res.to_dict()}
    write_json(path, payload)
    log(f"  V = {res.volume:.4f} ± {res.sigma_volume:.4f} Å³/atom, ⟨P⟩ = "
        f"{res.pressure_mean / GPA_TO_EV_PER_A3:+.3f} ± "
        f"{res.pressure_error / GPA_TO_EV_PER_A3:.3f} GPa, {res.cpu_seconds:.0f} s CPU")
    return payload


def ti_kwargs(args: argparse.Namespace) -> dict:
    return {"method": "lambda", "repeats": args.ti_repeats, "steps": args.ti_steps,
            "npt_steps": args.anchor_npt_steps, "progress": False if args.quiet else "lines"}


def run_direct_gibbs(system: System, temperature: float, args: argparse.Namespace,
                     runs: Path, ckpt: Path) -> dict:
    path = runs / f"{tag(system.name, 'gibbs', 0.0, temperature)}.json"
    if path.exists():
        return json.loads(path.read_text())
    s = derived_seed(args.seed, "mo-gibbs", temperature, 0.0)
    log(f"G direct {system.name} {PHASE} P = 0 T = {temperature:g} K (NPT + λ TI, seed {s})")
    cpu = time.process_time()
    g = gibbs_free_energy(system.atoms(temperature, 0.0), load_potential(system.potential),
                          [temperature], 0.0, seed=s,
                          checkpoint=ckpt / f"{tag(system.name, 'gibbs', 0.0, temperature)}.json",
                          **ti_kwargs(args))
    d = g.to_dict()
    row = d["temperatures"][0]
    payload = {"kind": "gibbs_free_energy", "system": system.name, "phase": PHASE,
               "n_atoms": 54, "potential": system.potential, "P_GPa": 0.0, "T": temperature,
               "G": row["G_3N-3"], "sigma_G": row["sigma"], "V": row["volume"],
               "sigma_V": row["sigma_volume"],
               "cpu_seconds_this_process": time.process_time() - cpu,
               "cpu_seconds_md": row["npt"]["cpu_seconds"] + row["ti"]["temperatures"][0][
                   "cpu_seconds"],
               "reported_G": "G_3N-3", "warnings": d["warnings"], "seed": s,
               "units": {"G": "eV/atom", "V": "Å³/atom", "T": "K", "cpu_seconds": "s"},
               "result": d}
    write_json(path, payload)
    log(f"  G = {row['G_3N-3']:.5f} ± {row['sigma']:.5f} eV/atom, V = {row['volume']:.4f}, "
        f"{payload['cpu_seconds_this_process']:.0f} s CPU")
    return payload


def run_sweep(system: System, args: argparse.Namespace, runs: Path, ckpt: Path) -> dict:
    name = f"{system.name}_{PHASE}_rs_P0GPa_T{RS_T0:g}-{RS_T1:g}K_{args.sweep_steps}steps"
    path = runs / f"{name}.json"
    if path.exists():
        return json.loads(path.read_text())
    s = derived_seed(args.seed, "mo-gibbs", RS_T0, 0.0)
    grid = np.arange(RS_T0, RS_T1 + 1.0, 100.0)
    log(f"RS {system.name} {PHASE} P = 0: anchor {RS_T0:g} K, sweep → {RS_T1:g} K "
        f"({args.sweep_steps} steps each way, seed {s})")
    cpu = time.process_time()
    rs = reversible_scaling(system.atoms(RS_T0, 0.0), load_potential(system.potential), RS_T0,
                            RS_T1, 0.0, grid,
                            sweep=SweepSettings(sweep_steps=args.sweep_steps,
                                                equilibration=args.sweep_equilibration),
                            seed=s,
                            checkpoint=ckpt / f"{tag(system.name, 'gibbs', 0.0, RS_T0)}.json",
                            **ti_kwargs(args))
    d = rs.to_dict()
    anchor_row = d["anchor"]["temperatures"][0]
    payload = {"kind": "reversible_scaling", "system": system.name, "phase": PHASE,
               "n_atoms": 54, "potential": system.potential, "P_GPa": 0.0, "T0": RS_T0,
               "T1": RS_T1, "grid": [{"G": r["G_3N-3"],
                                      **{k: r[k] for k in ("T", "sigma", "sigma_anchor",
                                                           "sigma_hysteresis", "volume")}}
                                     for r in d["temperatures"]],
               "anchor": {"G": anchor_row["G_3N-3"], "sigma_G": anchor_row["sigma"],
                          "V": anchor_row["volume"], "sigma_V": anchor_row["sigma_volume"],
                          "cpu_seconds_md": anchor_row["npt"]["cpu_seconds"]
                          + anchor_row["ti"]["temperatures"][0]["cpu_seconds"]},
               "sweep_cpu_seconds": d["settings"]["cpu_seconds"],
               "cpu_seconds_this_process": time.process_time() - cpu,
               "reported_G": "G_3N-3", "warnings": d["warnings"], "seed": s,
               "units": {"G": "eV/atom", "sigma": "eV/atom", "volume": "Å³/atom", "T": "K",
                         "cpu_seconds": "s"},
               "result": d}
    write_json(path, payload)
    for r in payload["grid"]:
        log(f"  {r['T']:6.0f} K  G = {r['G']:.5f} ± {r['sigma']:.5f} eV/atom "
            f"(hysteresis part {r['sigma_hysteresis']:.5f})")
    return payload


# -- summaries ----------------------------------------------------------------------------------
def summarize(system: System, runs: Path, out: Path, args: argparse.Namespace) -> dict:
    files = runs.glob(f"{system.name}_{PHASE}_npt_*.json")
    npt = sorted((json.loads(p.read_text()) for p in files), key=lambda d: (d["P_GPa"], d["T"]))
    summary: dict = {
        "system": system.name, "element": system.element, "phase": PHASE, "n_atoms": 54,
        "cells": [CELLS] * 3, "potential": system.potential,
        "conventions": "classical, per atom, COM fixed: G = F^(3N-3)(<V>) + P<V> (docs/ti.md §11)",
        "units": {"V": "Å³/atom", "sigma_V": "Å³/atom", "G": "eV/atom", "sigma": "eV/atom",
                  "T": "K", "P_GPa": "GPa", "cpu_seconds": "s (process CPU, one core)"},
        "script": "scripts/pressure/ground_truth.py",
        "volumes": [{k: d[k] for k in ("P_GPa", "T", "V", "sigma_V", "cpu_seconds", "steps",
                                       "seed")}
                    | {"P_mean_GPa": d["result"]["pressure_mean_GPa"],
                       "P_error_GPa": d["result"]["pressure_error_GPa"],
                       "bulk_modulus_GPa": d["result"]["bulk_modulus_GPa"],
                       "equilibrated": d["result"]["series"]["equilibrated"],
                       "discarded_samples": d["result"]["series"]["discarded"],
                       "basin": d["result"]["diagnostics"]}
                    for d in npt],
    }
    # several round trips (--sweep-steps): the summary reports the longest
    rs_files = sorted(runs.glob(f"{system.name}_{PHASE}_rs_*.json"),
                      key=lambda p: int(p.stem.rsplit("_", 1)[1].removesuffix("steps")))
    direct = sorted((json.loads(p.read_text())
                     for p in runs.glob(f"{system.name}_{PHASE}_gibbs_*.json")),
                    key=lambda d: d["T"])
    if rs_files or direct:
        g: dict = {"P_GPa": 0.0}
        if rs_files:
            rs = json.loads(rs_files[-1].read_text())
            g |= {"reversible_scaling": {k: rs[k] for k in ("T0", "T1", "grid", "anchor",
                                                           "sweep_cpu_seconds", "warnings",
                                                           "seed")}
                  | {"sweep_steps": rs["result"]["settings"]["sweep_steps"],
                     "equilibration": rs["result"]["settings"]["equilibration"]}}
        g["direct"] = [{k: d[k] for k in ("T", "G", "sigma_G", "V", "sigma_V", "cpu_seconds_md",
                                          "warnings", "seed")} for d in direct]
        if rs_files:
            checks = []
            for d in direct:
                row = next((r for r in rs["grid"] if abs(r["T"] - d["T"]) < 1e-6), None)
                if row is None:
                    continue
                # the anchor's error is common to every RS point; the direct run is independent
                checks.append({"T": d["T"], "G_rs": row["G"], "sigma_rs": row["sigma"],
                               "G_direct": d["G"], "sigma_direct": d["sigma_G"],
                               "rs_minus_direct_meV": 1e3 * (row["G"] - d["G"]),
                               "sigma_combined_meV": 1e3 * float(np.hypot(row["sigma"],
                                                                          d["sigma_G"])),
                               "V_rs": row["volume"], "V_direct": d["V"]})
            g["checks"] = checks
        summary["gibbs"] = g
    summary["settings"] = {"npt_steps": args.npt_steps, "w_npt_steps": args.w_npt_steps,
                           "anchor_npt_steps": args.anchor_npt_steps,
                           "ti_repeats": args.ti_repeats, "ti_steps_per_node": args.ti_steps,
                           "sweep_steps": args.sweep_steps,
                           "sweep_equilibration": args.sweep_equilibration, "seed": args.seed}
    write_json(out / f"{system.name}.json", summary)
    return summary


def print_tables(summaries: list[dict]) -> None:
    for s in summaries:
        print(f"\n{s['element']} ({s['potential']}), {s['n_atoms']} atoms")
        print("| P (GPa) | T (K) | ⟨V⟩ (Å³/atom) | σ_V | ⟨P⟩_NPT (GPa) | CPU (s) |")
        print("|---|---|---|---|---|---|")
        for v in s["volumes"]:
            print(f"| {v['P_GPa']:g} | {v['T']:g} | {v['V']:.4f} | {v['sigma_V']:.4f} | "
                  f"{v['P_mean_GPa']:+.3f} ± {v['P_error_GPa']:.3f} | {v['cpu_seconds']:.0f} |")
        g = s.get("gibbs")
        if not g:
            continue
        rs = g.get("reversible_scaling")
        if rs:
            a = rs["anchor"]
            print(f"\nRS anchor {rs['T0']:g} K: G = {a['G']:.5f} ± {a['sigma_G']:.5f} eV/atom "
                  f"({a['cpu_seconds_md']:.0f} s); "
                  f"sweep {rs['sweep_steps']} steps each way ({rs['sweep_cpu_seconds']:.0f} s)")
            print("| T (K) | G (eV/atom) | σ (meV/atom) | σ_hyst (meV/atom) | V (Å³/atom) |")
            print("|---|---|---|---|---|")
            for r in rs["grid"]:
                print(f"| {r['T']:g} | {r['G']:.5f} | {1e3 * r['sigma']:.2f} | "
                      f"{1e3 * r['sigma_hysteresis']:.2f} | {r['volume']:.3f} |")
        for d in g.get("direct", []):
            print(f"direct {d['T']:g} K: G = {d['G']:.5f} ± {d['sigma_G']:.5f} eV/atom, "
                  f"V = {d['V']:.4f} ± {d['sigma_V']:.4f} ({d['cpu_seconds_md']:.0f} s)")
        for c in g.get("checks", []):
            print(f"RS − direct at {c['T']:g} K: {c['rs_minus_direct_meV']:+.2f} ± "
                  f"{c['sigma_combined_meV']:.2f} meV/atom")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--out", type=Path, default=ROOT / "pressure-output" / "truth")
    parser.add_argument("--seed", type=int, default=20261301)
    parser.add_argument("--npt-steps", type=int, default=20_000,
                        help="production steps of each Mo NPT run (a quarter more equilibrates)")
    parser.add_argument("--w-npt-steps", type=int, default=12_000,
                        help="production steps of each W NPT run (SNAP 2J = 8 + ZBL: 2.6× Mo)")
    parser.add_argument("--anchor-npt-steps", type=int, default=10_000,
                        help="NPT steps before the TI of the anchor and of the direct G")
    parser.add_argument("--ti-repeats", type=int, default=2)
    parser.add_argument("--ti-steps", type=int, default=1600,
                        help="λ-TI production steps per node (8 nodes + λ = 1; ¼ more equilibrate)")
    parser.add_argument("--sweep-steps", type=int, default=30_000)
    parser.add_argument("--sweep-equilibration", type=int, default=2000)
    parser.add_argument("--temperatures", type=float, nargs="+",
                        help="restrict the expansion cases to these temperatures (K)")
    parser.add_argument("--summary-only", action="store_true",
                        help="write the summaries and tables from the cache, run nothing")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    runs, ckpt = args.out / "runs", args.out / "checkpoints"
    runs.mkdir(parents=True, exist_ok=True)
    ckpt.mkdir(parents=True, exist_ok=True)

    def refresh() -> list[dict]:
        return [summarize(system, runs, args.out, args) for system in SYSTEMS.values()]

    if not args.summary_only:
        for case in args.cases:
            spec = CASES[case]
            if spec is None:  # mo-gibbs
                system = SYSTEMS["mo"]
                run_sweep(system, args, runs, ckpt)
                refresh()
                for t in RS_DIRECT:
                    run_direct_gibbs(system, t, args, runs, ckpt)
                    refresh()
                continue
            system = SYSTEMS[spec.system]
            steps = args.w_npt_steps if system.name == "w" else args.npt_steps
            for p in spec.pressures_gpa:
                for t in spec.temperatures:
                    if args.temperatures and t not in args.temperatures:
                        continue
                    run_npt(system, case, p, t, steps, args.seed, runs)
                    refresh()
    print_tables(refresh())
    return 0


if __name__ == "__main__":
    sys.exit(main())
