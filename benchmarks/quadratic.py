"""What N_D ≈ 500 costs: quadratic SNAP against linear SNAP of the same family (issue 16, item 0).

Baseline: the linear Zuo et al. (JPCA 2020) potential of the same element — Cu_Zuo_JPCA2020
(2J = 8, N_D = 55) for Cu_Zuo_JPCA2020.quadratic (2J = 6, N_D = 30 + 465 = 495), Mo_Zuo_JPCA2020
(2J = 6, N_D = 30) for Mo_Zuo_JPCA2020.quadratic (N_D = 495).  Every figure is printed for both and
as the ratio quadratic / linear.

1. LAMMPS: ms per descriptor evaluation (``DescriptorEvaluator``, 32-atom FCC Cu, 54-atom BCC Mo,
   thermal distortions) and the identity gap |E/N − (β0 + θ·D)| (eV/atom) on the same samples.
2. Campaign demand: the pilot that fixes each shell's frame, ``default_pilot_size`` =
   max(10·N_D, 500) samples, and its CPU time (descriptors + frame work).
3. Per-shell frame (PCA) cost on synthetic rows (the cost does not depend on the values):
   ``fix_frame`` on the pilot (covariance + eigh), per-sample projection + power sums + histograms
   once the frame is fixed, and the size of one shell's statistics.
4. Estimator: a Gaussian test system (``phasetune.testsystems.gaussian_system``, 32 atoms, 8
   shells of ``default_pilot_size(N_D)`` samples, raw rows kept as campaigns do) with N_D of each
   potential: one-off fit time and µs per (model, T) of ``DDOSEstimator.predict`` with and without
   the gradient (300 models × 31 T, one thread), without and with the joint correction (its
   one-off tables too), and the error against the exact answer.

Run: ``OMP_NUM_THREADS=1 python benchmarks/quadratic.py [--n 40] [--models 300]`` (≈ 1–2 min).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from joint import best  # noqa: E402

from phasetune.archive.frame import fix_frame  # noqa: E402
from phasetune.archive.stats import ShellAccumulator, default_pilot_size  # noqa: E402
from phasetune.engine.calculators import DescriptorEvaluator, ForceEvaluator  # noqa: E402
from phasetune.estimator.ddos import DDOSEstimator  # noqa: E402
from phasetune.potentials.registry import load_potential  # noqa: E402
from phasetune.structures.crystals import crystal  # noqa: E402
from phasetune.testsystems import gaussian_system  # noqa: E402

PAIRS = [  # (linear baseline, quadratic, structure, volume Å³/atom, cells)
    ("Cu_Zuo_JPCA2020", "Cu_Zuo_JPCA2020.quadratic", "fcc", 11.8, 2),
    ("Mo_Zuo_JPCA2020", "Mo_Zuo_JPCA2020.quadratic", "bcc", 15.9, 3),
]
TEMPERATURES = np.linspace(300.0, 1500.0, 31)
"""Temperatures of the prediction timing, K."""


def lammps_figures(name: str, structure: str, volume: float, cells: int, n: int) -> dict:
    """N_D, ms per descriptor evaluation and the largest identity gap (eV/atom) of one potential."""
    pot = load_potential(f"lammps:{name}")
    atoms = crystal(structure, pot.elements[0], volume=volume, cells=cells)
    xs = atoms.positions + np.random.default_rng(0).normal(0.0, 0.08, (n, *atoms.positions.shape))
    evaluator = DescriptorEvaluator(atoms, pot.spec)
    evaluator.batch(xs[:2])  # warm-up (neighbour lists)
    seconds = best(lambda: evaluator.batch(xs))
    forces = ForceEvaluator(atoms, pot)
    gap = max(abs(forces.energy_forces(x)[0] / len(atoms)
                  - (pot.beta0() + pot.theta @ evaluator.descriptors(x))) for x in xs[:5])
    return {"name": name, "n_d": pot.spec.n_components, "twojmax": pot.spec.params.twojmax,
            "atoms": len(atoms), "ms_desc": 1e3 * seconds / n, "gap": gap}


def frame_figures(n_d: int) -> dict:
    """Frame cost of one shell at N_D = n_d: fix_frame on the default pilot (s), µs per sample of
    projection + power sums + histograms after it, and MB of the shell's statistics."""
    rng = np.random.default_rng(1)
    pilot = default_pilot_size(n_d)
    rows = rng.normal(size=(pilot, n_d)) * rng.uniform(0.1, 3.0, n_d)
    fix_s = best(lambda: fix_frame(rows))
    acc = ShellAccumulator(0.0, n_d, pilot_size=pilot)
    start = time.perf_counter()
    acc.add_batch(0, rows)  # fixes the frame, then projects the pilot into it
    pilot_s = time.perf_counter() - start
    more = rng.normal(size=(500, n_d))
    start = time.perf_counter()
    acc.add_batch(1, more)
    per_sample_us = 1e6 * (time.perf_counter() - start) / len(more)
    stats = acc.to_stats()
    size = sum(v.nbytes for v in vars(stats).values() if isinstance(v, np.ndarray))
    return {"pilot": pilot, "fix_s": fix_s, "pilot_s": pilot_s, "us_sample": per_sample_us,
            "mb": size / 1e6}


def estimator_figures(n_d: int, n_models: int) -> dict:
    """Fit time (s) and µs per (model, T) of prediction on a Gaussian system with N_D = n_d."""
    start = time.perf_counter()
    system = gaussian_system(n_components=n_d, n_atoms=32, n_shells=8,
                             n_samples=default_pilot_size(n_d), n_batches=8, store_raw=True)
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    est = DDOSEstimator(system.phase_volume, system.conventions)
    fit_s = time.perf_counter() - start
    rng = np.random.default_rng(2)
    thetas = system.theta_ref * (1.0 + 1e-3 * rng.standard_normal((n_models, n_d)))
    est.predict(thetas[:5], TEMPERATURES[:3], gradient=True)  # warm-up (compiled loops)
    points = n_models * TEMPERATURES.size
    plain = best(lambda: est.predict(thetas, TEMPERATURES, threads=1))
    grad = best(lambda: est.predict(thetas, TEMPERATURES, threads=1, gradient=True))
    est.set_joint_reference(system.theta_ref)
    start = time.perf_counter()
    est.joint_correction("score")
    tables_s = time.perf_counter() - start
    joint = best(lambda: est.predict(thetas, TEMPERATURES, threads=1))
    out = est.predict(thetas[:3], TEMPERATURES, threads=1)
    error = np.abs(out.F_total - system.exact(thetas[:3], TEMPERATURES).F_total).max()
    return {"build_s": build_s, "fit_s": fit_s, "us": 1e6 * plain / points,
            "us_grad": 1e6 * grad / points, "tables_s": tables_s, "us_joint": 1e6 * joint / points,
            "solved": out.solved.mean(), "error": error}


LAMMPS_ROWS = [  # (label, key of lammps_figures, format)
    ("2J_max", "twojmax", "d"),
    ("N_D", "n_d", "d"),
    ("descriptor evaluation, ms/sample", "ms_desc", ".3f"),
    ("identity gap max, eV/atom", "gap", ".1e"),
]
FRAME_ROWS = [  # (label, key of frame_figures, format)
    ("pilot = max(10 N_D, 500), samples/shell", "pilot", "d"),
    ("fix_frame (cov + eigh) on the pilot, s", "fix_s", ".3f"),
]
ESTIMATOR_ROWS = [  # (label, key of estimator_figures, format)
    ("estimator fit (8 shells, Gaussian), s", "fit_s", ".2f"),
    ("predict, µs per (model, T), 1 thread", "us", ".2f"),
    ("predict + gradient, µs per (model, T)", "us_grad", ".2f"),
    ("joint-correction tables (one-off), s", "tables_s", ".2f"),
    ("predict with joint correction, µs", "us_joint", ".2f"),
    ("Gaussian (joint): max |F − exact|, eV/atom", "error", ".1e"),
    ("Gaussian check: solved fraction", "solved", ".2f"),
]


def row(label: str, lin: float, quad: float, fmt: str) -> None:
    ratio = quad / lin if lin else float("nan")
    print(f"  {label:<40} {format(lin, fmt):>12} {format(quad, fmt):>12} {ratio:>8.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=40, help="descriptor evaluations per potential")
    ap.add_argument("--models", type=int, default=300, help="models per prediction call")
    args = ap.parse_args()
    frames: dict[int, dict] = {}
    estimators: dict[int, dict] = {}
    for linear, quadratic, structure, volume, cells in PAIRS:
        a = lammps_figures(linear, structure, volume, cells, args.n)
        b = lammps_figures(quadratic, structure, volume, cells, args.n)
        for n_d in (a["n_d"], b["n_d"]):
            frames.setdefault(n_d, frame_figures(n_d))
            estimators.setdefault(n_d, estimator_figures(n_d, args.models))
        fa, fb = frames[a["n_d"]], frames[b["n_d"]]
        ea, eb = estimators[a["n_d"]], estimators[b["n_d"]]
        print(f"\n{quadratic} against {linear} ({a['atoms']}-atom {structure.upper()}): "
              f"{'linear':>12} {'quadratic':>12} {'ratio':>8}")
        for label, key, fmt in LAMMPS_ROWS:
            row(label, a[key], b[key], fmt)
        for label, key, fmt in FRAME_ROWS:
            row(label, fa[key], fb[key], fmt)
        row("frame work per sample, ms", fa["us_sample"] / 1e3, fb["us_sample"] / 1e3, ".3f")
        cpu_a = fa["pilot"] * a["ms_desc"] / 1e3 + fa["pilot_s"]
        cpu_b = fb["pilot"] * b["ms_desc"] / 1e3 + fb["pilot_s"]
        row("pilot CPU per shell (desc. + frame), s", cpu_a, cpu_b, ".1f")
        row("shell statistics, MB", fa["mb"], fb["mb"], ".2f")
        for label, key, fmt in ESTIMATOR_ROWS:
            row(label, ea[key], eb[key], fmt)


if __name__ == "__main__":
    main()
