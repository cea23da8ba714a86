"""Prediction cost with the joint correction (issue 14) against the same estimator without it.

For every phase of an archive that kept raw descriptors and its reference θ (campaigns made
with ``store_raw: true``, the default), times ``DDOSEstimator.predict`` for 10⁴ models (0.1 %
perturbations of the reference θ) × 31 temperatures, on one thread and on all cores, with and
without the gradient, with the correction on and off (both here, side by side), and the
one-off cost of building its tables.  Target (issue 14): ≤ 10 µs per (model, T) on one thread.

    python benchmarks/joint.py --archive validation-output/mo_joint.h5 [--models 10000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from timing import best_time

from phasetune.conventions import Conventions
from phasetune.cores import available_cores
from phasetune.estimator.store import load_estimators

TARGET_US = 10.0
PERTURBATION = 1e-3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--archive", required=True)
    ap.add_argument("--models", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    estimators = load_estimators(args.archive, conventions=Conventions("3N-3"))
    temps = np.linspace(300.0, 2700.0, 31)
    cores = available_cores()
    print(f"{args.archive}: {args.models} models × {temps.size} T; µs per (model, T); "
          f"target ≤ {TARGET_US:g} µs on one thread")
    print(f"{'phase':>6} {'tables s':>9} {'plain 1t':>9} {'joint 1t':>9} {'ratio':>6} "
          f"{'+grad 1t':>9} {f'joint {cores}t':>9} {'+grad':>9} {'solved % plain/joint':>21}")
    for name, est in estimators.items():
        if est.joint_reference is None:
            print(f"{name:>6} joint correction off (no raw descriptors or reference θ): skipped")
            continue
        time_phase(name, est, args.models, temps, args.repeats, cores)


def time_phase(name: str, est, n_models: int, temps: np.ndarray, repeats: int,
               cores: int) -> None:
    """One row of the table: the phase's estimator with the correction off and on."""
    ref = est.joint_reference
    rng = np.random.default_rng(0)
    thetas = ref * (1.0 + PERTURBATION * rng.standard_normal((n_models, ref.size)))
    thetas[:, est.fixed] = 1.0
    start = time.perf_counter()
    est.joint_correction("score")
    tables = time.perf_counter() - start
    est.predict(thetas[:10], temps[:3], gradient=True)           # warm-up (compiled loops)
    n = n_models * temps.size

    def per_point(threads: int | None = None, gradient: bool = False) -> float:
        return 1e6 * best_time(lambda: est.predict(thetas, temps, threads=threads,
                                              gradient=gradient), repeats) / n

    est.set_joint_reference(None)
    plain, plain_solved = per_point(1), 100 * est.predict(thetas, temps).solved.mean()
    est.set_joint_reference(ref)
    est.joint_correction("score")
    joint, joint_solved = per_point(1), 100 * est.predict(thetas, temps).solved.mean()
    grad, joint_all, grad_all = per_point(1, True), per_point(), per_point(gradient=True)
    print(f"{name:>6} {tables:9.2f} {plain:9.2f} {joint:9.2f} {joint / plain:6.2f} "
          f"{grad:9.2f} {joint_all:9.2f} {grad_all:9.2f} {plain_solved:10.1f}/{joint_solved:.1f}")
    verdict = "meets" if joint <= TARGET_US else "misses"
    print(f"{name}: {verdict} the {TARGET_US:g} µs target on one thread ({joint:.2f} µs with "
          "the correction)")


if __name__ == "__main__":
    main()
