"""Prediction throughput of :class:`~phasetune.estimator.ddos.DDOSEstimator` on imported Fe data.

Issue: time and peak memory for 10⁴ models (random 0.1 % perturbations of X_Fe) × 31 temperatures
on the published BCC iron D-DOS data (``../shared/data/descriptordos-fe``).  Target: ≤ 5 µs per
(model, temperature), linear scaling in the batch size.  The reference implementation
(DescriptorDOS) needs 0.2–3 ms per (model, temperature) on these data and runs out of 24 GB at 10⁴
models (published figure).  If DescriptorDOS is importable it is timed on a small batch of the
same models (it cannot hold 10⁴) and the measured ratio is printed; otherwise the ratio is against
the published figure.

Reported per batch size: µs per (model, T) without and with the gradient D*, on one thread and
on all available cores (chunks of models in parallel threads), the cumulant route for
comparison, and the peak traced (numpy) memory of one call (tracemalloc, separate pass so that
tracing does not distort the timings), plus the process's maximum resident set size at the end.
Compilation of the numba kernels happens in a warm-up call before the clock starts.
Run: ``python benchmarks/predict.py [--sizes 1000 3000 10000] [--phase bcc] [--repeats 1]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from timing import best_time

from phasetune.archive.legacy import import_descriptordos
from phasetune.cores import available_cores
from phasetune.estimator.ddos import DDOSEstimator
from phasetune.potentials.registry import load_potential

SHARED = Path(__file__).resolve().parents[2] / "shared"
DATA = SHARED / "data" / "descriptordos-fe"
STEMS = {"bcc": "Fe_bcc_444_Hessian_single_vol", "fcc": "Fe_fcc_333_Hessian_single_vol"}
TEMPERATURES = np.linspace(300.0, 1800.0, 31)
"""31 temperatures, K."""
TARGET_US = 5.0
"""Target µs per (model, temperature)."""
REFERENCE_US = (200.0, 3000.0)
"""Published per-(model, T) cost of the reference implementation on these data, µs."""
PERTURBATION = 1e-3
"""Relative standard deviation of the random perturbations of X_Fe."""


def models(theta: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """(n, N_D) random relative perturbations θ(1 + 10⁻³ξ), ξ ~ N(0, 1), eV per feature unit."""
    rng = np.random.default_rng(seed)
    return theta * (1.0 + PERTURBATION * rng.standard_normal((n, theta.size)))


def peak_traced(fn) -> float:
    """Peak traced memory of one call, MiB (numpy allocations are traced)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def reference_implementation():
    """The DescriptorDOS analyser class if installed, else None."""
    for name in ("DescriptorDOS", "descriptordos"):
        if importlib.util.find_spec(name) is not None:
            module = importlib.import_module(f"{name}.Analyzer")
            return module.DDOSAnalyzer
    return None


def time_reference(analyser_cls, pkl: Path, volume: float, thetas: np.ndarray) -> float:
    """µs per (model, T) of DescriptorDOS ``score_free_energy`` (one call per temperature).

    Note: DescriptorDOS loads the pickle with plain ``pickle.load`` (method.md §11.7); only run
    this on the published files."""
    analyser = analyser_cls(str(pkl), volume_per_atom=volume)
    t0 = time.perf_counter()
    for t in TEMPERATURES:
        analyser.score_free_energy(float(t), Thetas=thetas)
    return 1e6 * (time.perf_counter() - t0) / (thetas.shape[0] * TEMPERATURES.size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 3000, 10000])
    parser.add_argument("--phase", choices=sorted(STEMS), default="bcc")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--reference-models", type=int, default=100,
                        help="models for the DescriptorDOS timing (it cannot hold 10⁴)")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"benchmarks/predict.py: the Fe data directory {DATA} is absent; it is expected at "
              "../shared/data/descriptordos-fe relative to the repository", file=sys.stderr)
        return 2
    pkl = DATA / f"{STEMS[args.phase]}.pkl"
    pot = load_potential(str(DATA / "X_Fe.snapcoeff"))
    t0 = time.perf_counter()
    pv = import_descriptordos(pkl, snapparam=DATA / "X_Fe.snapparam")
    est = DDOSEstimator(pv)
    setup = time.perf_counter() - t0
    n_t = TEMPERATURES.size
    print(f"{args.phase}: {len(pv.shells)} shells × {len(pv.reference.D0)} components, N = "
          f"{pv.reference.n_atoms}; set-up (import, score fits, tables) {setup:.2f} s")
    print(f"{n_t} temperatures {TEMPERATURES[0]:.0f}–{TEMPERATURES[-1]:.0f} K; models: X_Fe with "
          f"{100 * PERTURBATION:.1f} % random perturbations; target ≤ {TARGET_US:.0f} µs "
          "per (model, T)")
    est.predict(models(pot.theta, 50), TEMPERATURES, gradient=True)  # compile / warm caches
    cores = available_cores()
    print(f"µs per (model, T) on 1 thread and on {cores} threads (chunks of models in parallel); "
          f"peak traced memory of one {cores}-thread call")
    print(f"{'models':>8} {'1 thread':>9} {'+grad':>9} {f'{cores} thr':>9} {'+grad':>9} "
          f"{'cumulant':>9} {'peak MiB':>9} {'+grad':>9} {'solved %':>9} {'exact %':>8} "
          f"{'linear %':>8}")
    per_pair = {}
    for n in args.sizes:
        th = models(pot.theta, n)
        res = {}

        def run(grad: bool, threads: int, route: str = "score", th=th, res=res):
            res[grad] = est.predict(th, TEMPERATURES, gradient=grad, threads=threads,
                                    route=route)

        us = [1e6 * best_time(lambda g=g, k=k: run(g, k), args.repeats) / (n * n_t)
              for k in (1, cores) for g in (False, True)]
        cumulant = 1e6 * best_time(lambda: run(False, cores, "cumulant"), args.repeats) / (n * n_t)
        mem = [peak_traced(lambda g=g: run(g, cores)) for g in (False, True)]
        p = res[True]
        per_pair[n] = us
        pairs = p.info["pairs"]
        exact = 100 * p.info["exact_table_pairs"] / pairs
        linear = 100 * p.info["linear_pairs"] / pairs
        print(f"{n:8d} {us[0]:9.2f} {us[1]:9.2f} {us[2]:9.2f} {us[3]:9.2f} {cumulant:9.2f} "
              f"{mem[0]:9.1f} {mem[1]:9.1f} {100 * p.solved.mean():9.1f} {exact:8.1f} "
              f"{linear:8.1f}")
    sizes = sorted(per_pair)
    if len(sizes) > 1:
        lo, hi = per_pair[sizes[0]], per_pair[sizes[-1]]
        print(f"scaling {sizes[0]} → {sizes[-1]} models (1 thread): time per pair × "
              f"{hi[0] / lo[0]:.2f} (× {hi[1] / lo[1]:.2f} with gradient); 1.00 = linear")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"process max RSS: {rss:.0f} MiB")
    single, ours = per_pair[sizes[-1]][0], per_pair[sizes[-1]][2]
    for label, value in (("1 thread", single), (f"{cores} threads", ours)):
        verdict = "meets" if value <= TARGET_US else "misses"
        print(f"{label}: {verdict} the {TARGET_US:.0f} µs target at {sizes[-1]} models "
              f"({value:.2f} µs)")
    analyser_cls = reference_implementation()
    if analyser_cls is None:
        lo_ref, hi_ref = REFERENCE_US
        print(f"DescriptorDOS not installed: against its published figure of "
              f"{lo_ref / 1000:.1f}–{hi_ref / 1000:.0f} ms per (model, T) (not measured here) "
              f"phasetune is {lo_ref / ours:.0f}–{hi_ref / ours:.0f}× faster")
    else:
        n_ref = args.reference_models
        ref_us = time_reference(analyser_cls, pkl, pv.reference.volume, models(pot.theta, n_ref))
        print(f"DescriptorDOS (measured, {n_ref} models): {ref_us:.1f} µs per (model, T); "
              f"ratio {ref_us / ours:.0f}× (phasetune at {sizes[-1]} models)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
