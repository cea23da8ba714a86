"""What a model costs on the non-linear routes (issue 16), for the shipped Mo network
(examples/potentials/Mo_nn: 30→8→8→1 tanh, P = 329) on 54-atom frames, one thread.

Baseline: the same quantity for the linear SNAP model of the same descriptors
(``LinearModel``, P = 30), printed beside it with the ratio network / linear.

1. ``energies`` and ``energies_and_gradients`` of frames (F, N, K): frames per second.
2. Reweighting (``reweight``) of one θ from 1000 frames, with its exact gradient: ms per model.
3. Tangent descriptors (``TangentSpec.descriptors``, J and r of a frame): µs per frame, the cost
   a tangent campaign adds to each sample on top of LAMMPS's ``sna/atom``.

Frames are synthetic (descriptors drawn around the network's input scales): the costs do not
depend on the values.  The per-model costs of the tangent D-DOS prediction and of TI are in
docs/nonlinear.md (measured on the real archive and runs).

Run: ``OMP_NUM_THREADS=1 python benchmarks/nonlinear.py [--frames 1000]`` (≈ 1 min).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from timing import best_time

REPO = Path(__file__).resolve().parents[1]
REPEATS = 3
"""Calls timed per figure (the best is kept)."""
sys.path.insert(0, str(REPO / "src"))


def main(n_frames: int) -> None:
    import torch

    torch.set_num_threads(1)
    from phasetune.nonlinear.model import LinearModel
    from phasetune.nonlinear.network import NetworkModel
    from phasetune.nonlinear.tangent import tangent_spec
    from phasetune.potentials.registry import load_potential
    from phasetune.reweighting.estimator import reweight

    nn = load_potential(str(REPO / "examples/potentials/Mo_nn/Mo_nn.mliap"))
    snap = load_potential("lammps:Mo_Chen_PRM2017")
    rng = np.random.default_rng(0)
    frames = nn.scale0[0] + nn.scale1[0] * 0.3 * rng.normal(size=(n_frames, 54, 30))
    models = {"network": (NetworkModel(nn), nn.theta),
              "linear": (LinearModel(30, snap.beta0()), snap.theta)}
    rows = {}
    for name, (model, theta) in models.items():
        t_e = best_time(lambda m=model, th=theta: m.energies(frames, th), REPEATS)
        t_g = best_time(lambda m=model, th=theta: m.energies_and_gradients(frames, th),
                        REPEATS)
        step = theta * (1 + 1e-3 * rng.normal(size=theta.size))
        t_rw = best_time(lambda m=model, th=theta, s=step: reweight(frames, th, s, m, 800.0,
                                                                      flags=True), REPEATS)
        spec = tangent_spec(nn if name == "network" else snap)
        t_tan = best_time(lambda sp=spec: sp.descriptors(frames[:200]), REPEATS) / 200
        rows[name] = {"P": model.n_params, "energies frames/s": n_frames / t_e,
                      "energies+gradients frames/s": n_frames / t_g,
                      f"reweight ms/model ({n_frames} frames)": 1e3 * t_rw,
                      "tangent descriptors µs/frame": 1e6 * t_tan}
    keys = list(rows["network"])
    print(f"{'':38s} {'network':>12s} {'linear':>12s} {'ratio':>8s}")
    for key in keys:
        a, b = rows["network"][key], rows["linear"][key]
        print(f"{key:38s} {a:12.4g} {b:12.4g} {a / b:8.3g}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1000)
    main(parser.parse_args().frames)
