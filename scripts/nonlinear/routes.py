"""Where each non-linear route holds (issue 16 item 4): the Mo network of
examples/potentials/Mo_nn, BCC (54 atoms) and A15 (64 atoms) at 15.9 Å³/atom and 800 K, for
perturbations δθ of growing size along one random direction (relative to |θ0_i| per parameter):

* ground truth: energy-path TI from θ0 to θ (δF per phase), and route-A TI of θ0 (absolute F);
* reweighting: NVT frames of θ0 (δF, ESS);
* tangent D-DOS: the archive of scripts/nonlinear/mo_nn_tangent.yaml (F_lin), with and without
  the curvature correction from the same frames.

Every MD result is a JSON file in nonlinear-output/ (reruns skip finished ones); the comparison
is written to docs/nonlinear/routes.json.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/nonlinear/routes.py run --workers 2
    OMP_NUM_THREADS=1 .venv/bin/python scripts/nonlinear/routes.py report
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "nonlinear-output"
POTENTIAL = REPO / "examples/potentials/Mo_nn/Mo_nn.mliap"
ARCHIVE = OUT / "mo_nn_tangent.h5"
T = 800.0
VOLUME = 15.9
PHASES = {"bcc": ("bcc", 3), "a15": ("a15", 2)}
SIZES = (0.003, 0.01, 0.03, 0.1)
"""|δθ|/|θ0| of the perturbations."""
SEED = 2026


def potential():
    from phasetune.potentials.registry import load_potential

    return load_potential(str(POTENTIAL))


def atoms(phase: str):
    from phasetune.structures.crystals import crystal

    structure, cells = PHASES[phase]
    return crystal(structure, "Mo", volume=VOLUME, cells=cells)


def perturbed(size: float) -> np.ndarray:
    """θ0 + δθ with |δθ|/|θ0| = size along one fixed random direction (ξ_i |θ0_i|)."""
    theta0 = potential().theta
    u = np.random.default_rng(SEED).normal(size=theta0.size) * np.abs(theta0)
    return theta0 + size * np.linalg.norm(theta0) * u / np.linalg.norm(u)


# -- MD jobs (each writes one JSON) -------------------------------------------------------------
def job_frames(phase: str) -> str:
    from phasetune.reweighting.sampling import SamplingSettings, sample_frames

    start = time.process_time()
    out = OUT / f"frames_{phase}.h5"
    store = sample_frames(atoms(phase), potential(), T, out, seed=SEED,
                          settings=SamplingSettings(steps=20000, stride=20, equilibration=2000,
                                                    chunk_frames=100))
    (OUT / f"frames_{phase}.json").write_text(json.dumps(
        {"frames": store.n_frames, "cpu_seconds": time.process_time() - start}))
    return f"frames {phase}: {store.n_frames}"


def job_absolute(phase: str) -> str:
    from phasetune.ti import LambdaSettings, thermodynamic_integration

    start = time.process_time()
    result = thermodynamic_integration(
        atoms(phase), potential(), [T], repeats=2, seed=SEED, progress=False,
        checkpoint=str(OUT / f"ti_abs_{phase}.ckpt.json"),
        lambda_settings=LambdaSettings(n_nodes=4, equilibration=1000, production=4000))
    data = result.to_dict()
    data["cpu_seconds"] = time.process_time() - start
    (OUT / f"ti_abs_{phase}.json").write_text(json.dumps(data))
    return f"absolute TI {phase}: {result.points[0].F:.6f}"


def job_path(phase: str, size: float) -> str:
    from phasetune.ti.energy_path import EnergyPathSettings, energy_path

    start = time.process_time()
    pot = potential()
    end = pot.with_theta(perturbed(size), name=f"Mo_nn_{size:g}")
    with tempfile.TemporaryDirectory() as workdir:
        result = energy_path(atoms(phase), pot.pair_potential(workdir),
                             end.pair_potential(workdir), [T], repeats=2, seed=SEED,
                             progress=False,
                             checkpoint=str(OUT / f"ep_{phase}_{size:g}.ckpt.json"),
                             settings=EnergyPathSettings(n_nodes=0, ends=True,
                                                         equilibration=500, production=3000))
    data = result.to_dict()
    data["cpu_seconds"] = time.process_time() - start
    (OUT / f"ep_{phase}_{size:g}.json").write_text(json.dumps(data))
    return f"energy path {phase} {size:g}: {1e3 * result.delta_F[0]:.3f} meV/atom"


def jobs() -> list[tuple]:
    out = []
    for phase in PHASES:
        if not (OUT / f"frames_{phase}.json").exists():
            out.append((job_frames, phase))
        for size in SIZES:
            if not (OUT / f"ep_{phase}_{size:g}.json").exists():
                out.append((job_path, phase, size))
        if not (OUT / f"ti_abs_{phase}.json").exists():
            out.append((job_absolute, phase))
    return out


def run(workers: int) -> None:
    OUT.mkdir(exist_ok=True)
    todo = jobs()
    print(f"{len(todo)} job(s)", flush=True)
    with ProcessPoolExecutor(workers) as pool:
        futures = [pool.submit(*job) for job in todo]
        for f in futures:
            print(f.result(), flush=True)


# -- comparison ------------------------------------------------------------------------------
def report() -> dict:
    from phasetune.archive.hdf5 import read_archive
    from phasetune.estimator.store import load_volume_estimators
    from phasetune.nonlinear.network import NetworkModel
    from phasetune.reweighting.estimator import reweight
    from phasetune.reweighting.store import read_frames
    from phasetune.tangent.prediction import predict_tangent, spec_for, tangent_record

    pot = potential()
    model = NetworkModel(pot)
    theta0 = pot.theta
    thetas = np.stack([theta0] + [perturbed(s) for s in SIZES])
    data = read_archive(ARCHIVE)
    spec = spec_for(tangent_record(data.metadata), pot)
    estimators = load_volume_estimators(ARCHIVE, data=data)
    rows: dict = {"T": T, "volume": VOLUME, "sizes": list(SIZES), "phases": {}}
    for phase in PHASES:
        frames = read_frames(OUT / f"frames_{phase}.h5")
        t0 = time.perf_counter()
        rw = reweight(frames.descriptors, frames.theta0, thetas, model, T, flags=True)
        t_rw = (time.perf_counter() - t0) / len(thetas)
        t0 = time.perf_counter()
        tan = predict_tangent(estimators[phase][0], spec, thetas, [T],
                              frames=(frames.descriptors, T), gradient=True)
        t_tan = (time.perf_counter() - t0) / len(thetas)
        t0 = time.perf_counter()
        predict_tangent(estimators[phase][0], spec, np.repeat(thetas, 250, axis=0),
                        [T])
        t_lin = (time.perf_counter() - t0) / (250 * len(thetas))
        absolute = json.loads((OUT / f"ti_abs_{phase}.json").read_text())
        ti_row = absolute["temperatures"][0]
        ti_f = ti_row.get("F_3N", ti_row.get("F"))
        entry = {"frames": int(frames.n_frames),
                 "absolute_theta0": {"F_tangent_DDOS": float(tan.F_lin[0, 0]),
                                     "sigma_DDOS": float(tan.sigma_F[0, 0]),
                                     "F_TI": ti_f, "sigma_TI": ti_row.get("sigma"),
                                     "solved": bool(tan.solved[0, 0])},
                 "cost_seconds_per_model": {"reweight": t_rw, "tangent_with_correction": t_tan,
                                            "tangent_linear_only": t_lin},
                 "perturbations": []}
        for m, size in enumerate(SIZES, start=1):
            ep = json.loads((OUT / f"ep_{phase}_{size:g}.json").read_text())
            row = ep["temperatures"][0]
            truth, sigma = float(row["delta_F"]), float(row["sigma"])
            d_lin = float(tan.F_lin[0, m] - tan.F_lin[0, 0])
            d_tan = float(tan.F[0, m] - tan.F[0, 0])
            entry["perturbations"].append({
                "size": size, "delta_F_TI": truth, "sigma_TI": sigma,
                "ti_cpu_seconds": ep.get("cpu_seconds"),
                "reweight": {"delta_F": float(rw.delta_F[m]), "sigma": float(rw.sigma[m]),
                             "ess_fraction": float(rw.ess_fraction[m]),
                             "error": float(rw.delta_F[m]) - truth},
                "tangent_linear": {"delta_F": d_lin, "error": d_lin - truth},
                "tangent_corrected": {"delta_F": d_tan, "error": d_tan - truth,
                                      "curvature_error_estimate":
                                          float(tan.curvature.error[m]),
                                      "correction": float(tan.curvature.correction[m]),
                                      "validated": bool(tan.validated[m])},
            })
        rows["phases"][phase] = entry
    (REPO / "docs/nonlinear").mkdir(exist_ok=True)
    (REPO / "docs/nonlinear/routes.json").write_text(json.dumps(rows, indent=1))
    return rows


def print_table(rows: dict) -> None:
    for phase, entry in rows["phases"].items():
        a = entry["absolute_theta0"]
        print(f"{phase}: F(θ0) tangent D-DOS {a['F_tangent_DDOS']:.5f} ± "
              f"{1e3 * a['sigma_DDOS']:.2f} meV vs TI {a['F_TI']:.5f} → "
              f"{1e3 * (a['F_tangent_DDOS'] - a['F_TI']):+.2f} meV/atom")
        print("  |δθ|/|θ0|   δF_TI (meV)     reweight err (ESS)   tangent-lin err  "
              "tangent+c err (e)")
        for p in entry["perturbations"]:
            print(f"  {p['size']:<9g} {1e3 * p['delta_F_TI']:9.3f} ± {1e3 * p['sigma_TI']:.3f}"
                  f"   {1e3 * p['reweight']['error']:+7.3f} ({p['reweight']['ess_fraction']:.2f})"
                  f"   {1e3 * p['tangent_linear']['error']:+8.3f}"
                  f"   {1e3 * p['tangent_corrected']['error']:+8.3f} "
                  f"({1e3 * p['tangent_corrected']['curvature_error_estimate']:.3f})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["run", "report"])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.what == "run":
        run(args.workers)
    else:
        print_table(report())
    sys.exit(0)
