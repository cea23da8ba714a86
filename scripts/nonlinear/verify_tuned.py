"""Verify a tuned Mo network (scripts/nonlinear/mo_nn_tune*.yaml) by energy-path TI in LAMMPS:
δF = F(tuned) − F(θ0) per phase at the frames' cell and T, so that the TI change of
ΔF(A15 − BCC) is compared with the target and with what reweighting predicted; with the route-A
TI of θ0 (routes.py) it also gives the tuned potential's absolute ΔF(A15 − BCC).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/nonlinear/verify_tuned.py tuned_transition \
        Mo_nn_tc800 [--workers 2]

Writes nonlinear-output/ep_{phase}_{name}.json and docs/nonlinear/{name}.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

from routes import OUT, PHASES, REPO, SEED, T, atoms, potential


def job(phase: str, folder: str, name: str) -> dict:
    from phasetune.potentials.registry import load_potential
    from phasetune.ti.energy_path import EnergyPathSettings, energy_path

    out = OUT / f"ep_{phase}_{name}.json"
    if out.exists():
        return json.loads(out.read_text())
    start = time.process_time()
    with tempfile.TemporaryDirectory() as workdir:
        result = energy_path(atoms(phase), potential().pair_potential(workdir),
                             load_potential(str(OUT / folder / f"{name}.mliap"))
                             .pair_potential(workdir), [T],
                             repeats=2, seed=SEED + 1, progress=False,
                             checkpoint=str(OUT / f"ep_{phase}_{name}.ckpt.json"),
                             settings=EnergyPathSettings(n_nodes=2, ends=True,
                                                         equilibration=500, production=3000))
    data = result.to_dict()
    data["cpu_seconds"] = time.process_time() - start
    out.write_text(json.dumps(data))
    return data


def main(folder: str, name: str, workers: int) -> None:
    with ProcessPoolExecutor(workers) as pool:
        futures = {p: pool.submit(job, p, folder, name) for p in PHASES}
        results = {p: f.result() for p, f in futures.items()}
    report = json.loads((OUT / folder / "report.json").read_text())
    rows = {p: r["temperatures"][0] for p, r in results.items()}
    shift = rows["a15"]["delta_F"] - rows["bcc"]["delta_F"]
    sigma = (rows["a15"]["sigma"] ** 2 + rows["bcc"]["sigma"] ** 2) ** 0.5
    absolute = {p: json.loads((OUT / f"ti_abs_{p}.json").read_text())["temperatures"][0]
                for p in PHASES}
    delta0 = absolute["a15"]["F_3N-3"] - absolute["bcc"]["F_3N-3"]
    sigma0 = (absolute["a15"]["sigma"] ** 2 + absolute["bcc"]["sigma"] ** 2) ** 0.5
    target = report["targets"][0]
    summary = {
        "target": target["target"], "T": T,
        "reweighting_residual_after_meV": 1e3 * target["residual_after_eV"],
        "TI_delta_F_meV": {p: 1e3 * r["delta_F"] for p, r in rows.items()},
        "TI_sigma_meV": {p: 1e3 * r["sigma"] for p, r in rows.items()},
        "TI_shift_of_delta_F_meV": 1e3 * shift, "TI_shift_sigma_meV": 1e3 * sigma,
        "TI_delta_F_theta0_meV": 1e3 * delta0, "TI_delta_F_theta0_sigma_meV": 1e3 * sigma0,
        "TI_delta_F_tuned_meV": 1e3 * (delta0 + shift),
        "TI_delta_F_tuned_sigma_meV": 1e3 * (sigma0**2 + sigma**2) ** 0.5,
        "ti_cpu_seconds": {p: r["cpu_seconds"] for p, r in results.items()},
        "tune": {k: report[k] for k in ("message", "converged", "relative_theta_change",
                                          "rounds", "ess_fraction_after")},
    }
    (REPO / f"docs/nonlinear/{name}.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="the tune output folder under nonlinear-output/")
    parser.add_argument("name", help="the tuned potential's name (NAME.mliap in the folder)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    main(args.folder, args.name, args.workers)
