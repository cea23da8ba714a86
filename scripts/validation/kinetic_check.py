#!/usr/bin/env python
"""Kinetic-shell D-DOS (method.md §4.5) against the TI rows of docs/validation/mo.json.

Reads the archive of ``mo_kinetic.yaml`` (sample it first: ``phasetune sample
scripts/validation/mo_kinetic.yaml --workers 1``), predicts F^(3N−3) for the θ of mo.json (θ0,
three perturbed θ = θ0 + 0.02·|θ0|∘ξ, the tuned θ; K/N gets θ = 1) at the TI temperatures and
prints a JSON summary: per row F_DDOS, σ, solved, α*, T_α*, F_TI, σ_TI and the deviation.

Run: ``python scripts/validation/kinetic_check.py [--archive …] [--model power|log]``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from phasetune.archive.hdf5 import read_archive
from phasetune.conventions import Conventions
from phasetune.estimator.ddos import DDOSEstimator
from phasetune.estimator.kinetic import shell_slopes
from phasetune.jsonutil import to_jsonable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archive", default=str(ROOT / "validation-output" / "mo_kinetic.h5"))
    ap.add_argument("--truth", default=str(ROOT / "docs" / "validation" / "mo.json"))
    ap.add_argument("--model", default="power", choices=["power", "log"])
    ap.add_argument("--degree", type=int, default=2)
    ap.add_argument("--out", default=None, help="write the JSON summary here")
    args = ap.parse_args()
    truth = json.loads(Path(args.truth).read_text())
    labels, thetas = truth["labels"], np.array(truth["thetas"], dtype=float)
    archive = read_archive(args.archive)
    conv = Conventions(modes="3N-3")
    rows, shells = [], {}
    for pv in archive.phase_volumes:
        phase = pv.reference.phase
        start = time.perf_counter()
        est = DDOSEstimator(pv, conv, kinetic_model=args.model, kinetic_degree=args.degree)
        build = time.perf_counter() - start
        alphas, g, sig = shell_slopes(pv)
        shells[phase] = {"alpha": alphas, "g": g, "g_sigma": sig,
                         "T_shell": est.kinetic.temperature(alphas),
                         "g_fit": est.kinetic.fitted_slope(alphas),
                         "count": [s.count for s in sorted(pv.shells, key=lambda s: s.alpha)],
                         "summary": est.kinetic.summary(), "estimator_build_s": build}
        mine = [r for r in truth["comparison"]["rows"] if r["phase"] == phase]
        for r in mine:
            theta = np.append(thetas[labels.index(r["model"])], 1.0)
            p = est.predict(theta, [r["T"]])
            cum = est.cumulant(theta, [r["T"]])
            rows.append({"phase": phase, "T": r["T"], "model": r["model"],
                         "F_DDOS": float(p.F_total[0, 0]), "sigma_DDOS": float(p.sigma_F[0, 0]),
                         "solved": bool(p.solved[0, 0]), "status": int(p.status[0, 0]),
                         "alpha_star": float(p.alpha_star[0, 0]),
                         "T_alpha_star": float(p.T_alpha_star[0, 0]),
                         "F_cumulant": float(cum.F_total[0, 0]),
                         "F_TI": r["F_TI"], "sigma_TI": r["sigma_TI"],
                         "deviation": float(p.F_total[0, 0] - r["F_TI"]),
                         "hessian_route_deviation": r.get("deviation"),
                         "hessian_route_solved": r.get("solved")})
    out = {"archive": args.archive, "model": args.model, "degree": args.degree,
           "conventions": "F^(3N-3), COM fixed, classical, per atom", "rows": rows,
           "shells": shells, "provenance": archive.metadata.get("provenance", {})}
    text = json.dumps(to_jsonable(out), indent=1)
    if args.out:
        Path(args.out).write_text(text)
    for r in rows:
        print(f"{r['phase']:4s} {r['T']:6.0f} {r['model']:6s} dev {1e3 * r['deviation']:+7.2f} "
              f"± {1e3 * r['sigma_DDOS']:.2f} (TI ± {1e3 * r['sigma_TI']:.2f}) meV  solved "
              f"{r['solved']}  T* {r['T_alpha_star']:.0f} K  cum dev "
              f"{1e3 * (r['F_cumulant'] - r['F_TI']):+7.2f}")


if __name__ == "__main__":
    main()
