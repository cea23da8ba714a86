#!/usr/bin/env python
"""The melting worked case of docs/melting.md: Mo_Chen_PRM2017, BCC against the liquid at P = 0.

Reads the archives of ``mo_bcc_kinetic.yaml`` and ``mo_liquid.yaml`` (sampled, the liquid
anchored with ``phasetune anchor``), and prints a JSON summary:

* ``liquid_rows``: F_liquid by D-DOS against every liquid TI file given (same N, V, T, θ);
* ``melting``: T_m, σ, ∂T_m/∂θ, ΔH_m, ΔV_m, dT_m/dP at P = 0 for θ0, the perturbed θ of
  docs/validation/mo.json (θ0 + 0.02|θ0|∘ξ) and any extra models;
* ``ensemble``: T_m of 10³ models (θ0 + small noise) in one vectorised call, with its wall time.

Run: ``python scripts/melting/report.py --ti docs/melting/liquid_ti_*.json --out …``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from phasetune.conventions import Conventions
from phasetune.jsonutil import to_jsonable
from phasetune.phases.melting import melting_point, melting_temperatures
from phasetune.potentials.registry import load_potential
from phasetune.pressure.loading import load_pressure_phases

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
GRID = np.arange(2400.0, 3801.0, 50.0)


def kinetic_theta(theta: np.ndarray) -> np.ndarray:
    """θ of the kinetic archives: the SNAP θ with θ = 1 appended for K/N."""
    return np.append(np.asarray(theta, dtype=float), 1.0)


def liquid_rows(liquid, ti_files: list[str], models: dict[str, np.ndarray]) -> list[dict]:
    rows = []
    for path in ti_files:
        d = json.loads(Path(path).read_text())
        volume = d["volume_box"] / d["n_atoms"]
        est = min(liquid.estimators, key=lambda e: abs(e.reference.volume - volume))
        if abs(est.reference.volume - volume) > 1e-6 * volume:
            continue
        label = d.get("model", "θ0")
        theta = models.get(label)
        if theta is None:
            continue
        for r in d["temperatures"]:
            p = est.predict(kinetic_theta(theta), [r["T"]])
            rows.append({"file": Path(path).name, "model": label, "V": volume, "T": r["T"],
                         "F_DDOS": float(p.F_total[0, 0]), "sigma_DDOS": float(p.sigma_F[0, 0]),
                         "solved": bool(p.solved[0, 0]), "F_TI": r["F_3N-3"],
                         "sigma_TI": r["sigma"],
                         "deviation": float(p.F_total[0, 0] - r["F_3N-3"]),
                         "anchor": r["T"] == est.ti_anchor.temperature
                         and abs(volume - est.reference.volume) < 1e-9 and label == "θ0"})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    out_dir = ROOT / "melting-output"
    ap.add_argument("--solid", default=str(out_dir / "mo_bcc.h5"))
    ap.add_argument("--liquid", default=str(out_dir / "mo_liquid.h5"))
    ap.add_argument("--thetas", default=str(ROOT / "docs" / "validation" / "mo.json"))
    ap.add_argument("--ti", nargs="*", default=[], help="liquid TI JSON files to compare")
    ap.add_argument("--extra", nargs="*", default=[],
                    help="LABEL=POTENTIAL models to add (e.g. a tuned potential)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    truth = json.loads(Path(args.thetas).read_text())
    models = {lab: np.array(th, dtype=float) for lab, th in
              zip(truth["labels"], truth["thetas"], strict=True) if lab != "tuned"}
    for item in args.extra:
        label, name = item.split("=", 1)
        models[label] = load_potential(name).theta
    pot = load_potential("lammps:Mo_Chen_PRM2017")
    phases = load_pressure_phases([args.solid, args.liquid], conventions=Conventions("3N-3"))
    solid, liquid = phases["bcc"], phases["liquid"]
    out = {"archives": [args.solid, args.liquid], "grid_K": GRID, "pressure_GPa": 0.0,
           "conventions": "G_phys = G^(3N-3) + f_trans (method.md §8, Melting)",
           "liquid_rows": liquid_rows(liquid, args.ti, models), "melting": {}}
    for label, theta in models.items():
        m = melting_point(solid, liquid, kinetic_theta(theta), 0.0, GRID, pot.beta0())
        out["melting"][label] = m.to_dict()
    rng = np.random.default_rng(0)
    theta0 = kinetic_theta(models["θ0"])
    scale = 0.002 * np.abs(theta0)
    scale[-1] = 0.0
    thetas = theta0 + scale * rng.standard_normal((1000, theta0.size))
    start = time.perf_counter()
    ens = melting_temperatures(solid, liquid, thetas, 0.0, GRID)
    wall = time.perf_counter() - start
    out["ensemble"] = {**ens.summary(), "wall_s": wall, "noise": "0.002|θ0| per component"}
    text = json.dumps(to_jsonable(out), indent=1, ensure_ascii=False)
    if args.out:
        Path(args.out).write_text(text)
    for r in out["liquid_rows"]:
        print(f"liquid {r['model']:3s} V {r['V']:.2f} T {r['T']:6.0f}: D-DOS − TI "
              f"{1e3 * r['deviation']:+6.2f} ± {1e3 * r['sigma_DDOS']:.2f} (TI ± "
              f"{1e3 * r['sigma_TI']:.2f}) meV/atom{' (anchor)' if r['anchor'] else ''}")
    for label, m in out["melting"].items():
        print(f"{label}: {m['message']}")
    print(f"ensemble: {out['ensemble']}")


if __name__ == "__main__":
    main()
