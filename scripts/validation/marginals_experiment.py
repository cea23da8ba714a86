"""Which approximation misses? The estimator's α saddle fed with three kinds of per-shell terms.

For each shell of an archive that kept its raw descriptors, the tilted log-moment
h_i = −(1/N) ln⟨exp(−Nβθ·(D − D0))⟩ is taken (1) from the product of score-fitted PCA marginals
(the estimator's score route), (2) as the product of the marginals' exact 1-D log-moments of the
samples, (3) as the samples' exact joint log-moment. Everything else (α saddle, shell measure) is
the estimator's. Printed: F − F_TI (meV/atom) against the TI rows of docs/validation/<system>.json.

    python scripts/validation/marginals_experiment.py mo validation-output/mo_joint.h5 bcc \
        --potential lammps:Mo_Chen_PRM2017
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from phasetune.archive.hdf5 import read_archive
from phasetune.constants import KB
from phasetune.conventions import Conventions
from phasetune.estimator.ddos import DDOSEstimator
from phasetune.estimator.joint import tilted_moments
from phasetune.estimator.saddle import ShellTerms, assemble
from phasetune.estimator.terms import ScoreChunk
from phasetune.potentials.registry import load_potential

HERE = Path(__file__).resolve().parents[2]


def exact_1d(raw, d0, theta, rotation, beta, n_atoms):
    """Σ_j −(1/N) ln⟨exp(−Nβ θ̃_j x_j)⟩ over the frame components x = Rᵀ(D − D0), (n_T,)."""
    x, t = (raw - d0) @ rotation, theta @ rotation
    out = np.zeros(beta.size)
    for k, b in enumerate(beta):
        a = -n_atoms * b * x * t
        top = a.max(axis=0)
        out[k] = -np.sum(np.log(np.exp(a - top).mean(axis=0)) + top) / n_atoms
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("system")
    ap.add_argument("archive")
    ap.add_argument("phase")
    ap.add_argument("--potential", required=True)
    args = ap.parse_args()
    pot = load_potential(args.potential)
    est = DDOSEstimator(read_archive(args.archive).get(args.phase, 0), Conventions("3N-3"))
    est.set_joint_reference(None)
    report = json.loads((HERE / "docs" / "validation" / f"{args.system}.json").read_text())
    rows = [r for r in report["comparison"]["rows"] if r["phase"] == args.phase]
    temps = np.array(sorted({r["T"] for r in rows}))
    beta = 1.0 / (KB * temps)
    shells, n = est.phase_volume.shells, est.reference.n_atoms
    for label, theta in zip(report["labels"], np.asarray(report["thetas"]), strict=True):
        ti = np.array([next((r["F_TI"] for r in rows if r["T"] == t and r["model"] == label),
                            np.nan) for t in temps])
        if np.isnan(ti).all():
            continue
        terms = {"product of score-fitted marginals":
                 ScoreChunk(est.tables, est.frames, theta[None], beta).terms.h[:, 0],
                 "product of exact 1-D log-moments": np.stack(
                     [exact_1d(s.raw, est.d0, theta, est.frames.rotation[i], beta, n)
                      for i, s in enumerate(shells)], axis=1),
                 "exact joint log-moment": np.stack(
                     [tilted_moments(s.raw, est.d0, theta, beta, n)[0] for s in shells], axis=1)}
        for name, h in terms.items():
            zero = np.zeros((temps.size, 1, h.shape[1]))
            res = assemble(est.solver, ShellTerms(h[:, None], zero, None, zero.astype(np.int64)),
                           temps, est.reference, est.conventions)
            f = pot.beta0() + theta @ est.d0 + res["F_vib"][:, 0]
            cells = "  ".join(f"{t:.0f} K {1e3 * (f[k] - ti[k]):+7.2f}"
                              f"{'' if res['status'][k, 0] == 0 else '*'}"
                              for k, t in enumerate(temps))
            print(f"{args.phase} {label:6s} {name:34s} {cells}")


if __name__ == "__main__":
    main()
