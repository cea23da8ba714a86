"""G(θ, P, T) throughput of :class:`~phasetune.pressure.phase.PressurePhase` (issue 13).

Target: G(P, T) for 10⁴ models × 31 T × 11 P in under 10 s on this machine's 2 cores (every
phase of the archive), with its ratio to 31·11 separate calls (one (T, P) point per call, the
way a user would loop over a fixed-pressure API).  The separate calls are timed on a subset of the
models (``--baseline-models``) and compared per (model, T, P); both run here, side by side.

Models: 0.1 % random perturbations of the potential's θ.  Run::

    python benchmarks/pressure.py --archive ARCHIVE.h5 --potential lammps:Mo_Chen_PRM2017 \
        [--models 10000] [--baseline-models 1000] [--t-max 1500] [--p-max 10]

The archive must hold several volumes per phase (e.g. ``examples/mo_pressure.yaml``).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np

from phasetune.constants import GPA_TO_EV_PER_A3
from phasetune.cores import available_cores
from phasetune.potentials.registry import load_potential
from phasetune.pressure.loading import load_pressure_phases

TARGET_S = 10.0
PERTURBATION = 1e-3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--archive", required=True)
    ap.add_argument("--potential", default="lammps:Mo_Chen_PRM2017")
    ap.add_argument("--models", type=int, default=10_000)
    ap.add_argument("--baseline-models", type=int, default=1000)
    ap.add_argument("--t-min", type=float, default=300.0)
    ap.add_argument("--t-max", type=float, default=1500.0)
    ap.add_argument("--p-max", type=float, default=10.0, help="GPa")
    args = ap.parse_args()

    pot = load_potential(args.potential)
    phases = load_pressure_phases([args.archive])
    rng = np.random.default_rng(0)
    thetas = pot.theta * (1.0 + PERTURBATION * rng.standard_normal((args.models,
                                                                     pot.theta.size)))
    fixed = next(iter(phases.values())).fixed
    thetas[:, fixed] = 1.0
    temps = np.linspace(args.t_min, args.t_max, 31)
    press = np.linspace(0.0, args.p_max, 11) * GPA_TO_EV_PER_A3
    for ph in phases.values():  # warm-up: numba compilation, fits
        ph.predict(thetas[:2], temps[:2], press[:2])

    n_points = args.models * temps.size * press.size
    t0 = time.perf_counter()
    solved = {}
    for name, ph in phases.items():
        g = ph.predict(thetas, temps, press, beta0=pot.beta0())
        solved[name] = float(g.solved.mean())
    vectorised = time.perf_counter() - t0

    sub = thetas[: args.baseline_models]
    t0 = time.perf_counter()
    for ph in phases.values():
        for t in temps:
            for p in press:
                ph.predict(sub, [t], [p], beta0=pot.beta0())
    separate = time.perf_counter() - t0

    per_vec = vectorised / n_points * 1e6
    per_sep = separate / (sub.shape[0] * temps.size * press.size) * 1e6
    volumes = {n: ph.volumes.size for n, ph in phases.items()}
    print(f"archive {args.archive}: phases {volumes} (volumes per phase), N_D = "
          f"{pot.theta.size}, {available_cores()} core(s)")
    print(f"one vectorised call per phase: {args.models} models × 31 T × 11 P = {n_points:.3g} "
          f"points per phase in {vectorised:.2f} s for all phases ({per_vec:.3f} µs per "
          f"(model, T, P) for all phases); target < {TARGET_S:g} s: "
          f"{'met' if vectorised < TARGET_S else 'NOT met'}")
    print(f"341 separate calls (one (T, P) each) on {sub.shape[0]} models: {separate:.2f} s "
          f"({per_sep:.3f} µs per (model, T, P)); ratio separate/vectorised per point: "
          f"{per_sep / per_vec:.1f}×")
    print(f"solved fraction per phase: {solved}")
    print(f"max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
