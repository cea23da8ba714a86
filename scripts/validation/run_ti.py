#!/usr/bin/env python
"""TI side of the validation report: thermodynamic integration of the validation systems.

Runs ``phasetune.ti.thermodynamic_integration`` for Mo (Mo_Chen_PRM2017) and W (W_2940_2017_2),
BCC and A15, at a few temperatures, and stores one JSON per (system, method) in ``--out``.
Every run is resumable: finished (T, repeat) records live in ``<out>/<system>_<method>.ckpt.json``
and a rerun skips them, so the script can be interrupted and restarted at will.

Examples::

    python scripts/validation/run_ti.py --quick                  # minutes: small runs, 1 T
    python scripts/validation/run_ti.py --systems mo-bcc mo-a15  # the Mo part at full settings
    python scripts/validation/run_ti.py --method both            # λ-integration and Frenkel–Ladd

The D-DOS side (the estimator at r = 3 − 3/N, compared with ``F_3N-3`` of these files) is added
by the ``validate`` report once the estimator exists; :func:`load_ti` is its entry point.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from phasetune.conventions import Conventions
from phasetune.jsonutil import to_jsonable
from phasetune.potentials.registry import load_potential
from phasetune.structures.crystals import crystal
from phasetune.ti import thermodynamic_integration


@dataclass(frozen=True)
class System:
    """One validation crystal: prototype, element, volume per atom (Å³), supercell, T (K)."""

    name: str
    potential: str
    structure: str
    element: str
    volume: float
    cells: int
    temperatures: tuple[float, ...]


SYSTEMS = {
    s.name: s for s in (
        System("mo-bcc", "lammps:Mo_Chen_PRM2017", "bcc", "Mo", 15.9, 3, (1000.0, 2000.0, 2600.0)),
        System("mo-a15", "lammps:Mo_Chen_PRM2017", "a15", "Mo", 15.9, 2, (1000.0, 2000.0, 2600.0)),
        System("w-bcc", "lammps:W_2940_2017_2", "bcc", "W", 16.2, 4, (1000.0, 2500.0, 3300.0)),
        System("w-a15", "lammps:W_2940_2017_2", "a15", "W", 16.2, 2, (1000.0, 2500.0, 3300.0)),
    )
}
"""Mo: 54-atom BCC, 64-atom A15; W: 128-atom BCC, 64-atom A15 (the demo's volumes)."""


def run_system(system: System, method: str, out: Path, repeats: int, steps: int | None,
               temperatures: tuple[float, ...], progress: bool) -> Path:
    """TI of one system with one method; writes and returns ``<out>/<name>_<method>.json``."""
    pot = load_potential(system.potential)
    atoms = crystal(system.structure, system.element, volume=system.volume, cells=system.cells)
    start = time.time()
    result = thermodynamic_integration(
        atoms, pot, temperatures, method=method, repeats=repeats,
        conventions=Conventions(modes="3N-3"), steps=steps, seed=2026,
        checkpoint=out / f"{system.name}_{method}.ckpt.json", progress=progress)
    payload = {"system": system.name, "wall_seconds": time.time() - start, **result.to_dict()}
    path = out / f"{system.name}_{method}.json"
    path.write_text(json.dumps(to_jsonable(payload), indent=1, ensure_ascii=False))
    for p in payload["temperatures"]:
        print(f"{system.name:7s} {method:12s} T = {p['T']:6.0f} K: F_3N-3 = {p['F_3N-3']:.6f} "
              f"± {1e3 * p['sigma']:.3f} meV/atom ({p['cpu_seconds']:.0f} CPU s)", flush=True)
    return path


def load_ti(out: Path, system: str, method: str = "lambda") -> dict:
    """The stored TI result of ``system`` (for the validate report)."""
    return json.loads((out / f"{system}_{method}.json").read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--systems", nargs="+", choices=sorted(SYSTEMS), default=sorted(SYSTEMS))
    parser.add_argument("--method", choices=["lambda", "frenkel-ladd", "both"], default="lambda")
    parser.add_argument("--out", type=Path, default=Path("validation-output/ti"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=None,
                        help="steps per λ node / per switch (default: the library defaults)")
    parser.add_argument("-T", "--temperatures", type=float, nargs="+", default=None,
                        help="override every system's temperatures (K)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: the lowest temperature, 2 repeats, 400 steps")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    methods = ["lambda", "frenkel-ladd"] if args.method == "both" else [args.method]
    for name in args.systems:
        system = SYSTEMS[name]
        temps = tuple(args.temperatures) if args.temperatures else system.temperatures
        repeats, steps = args.repeats, args.steps
        if args.quick:
            temps, repeats, steps = temps[:1], 2, 400
        for method in methods:
            run_system(system, method, args.out, repeats, steps, temps, not args.no_progress)
    return 0


if __name__ == "__main__":
    sys.exit(main())
