#!/usr/bin/env python
"""Liquid anchors of docs/melting.md: liquid TI of θ0 at one volume and temperature, carried to
the other sampled volumes by the volume path F(v) = F(v₁) − ∫P dv at the same temperature.

Writes one liquid-TI-format JSON per volume (``phase: liquid``, ``temperatures: [{T, F_3N-3,
sigma, …}]``; the derived ones say ``derived_by: volume path``), ready for
``phasetune anchor ARCHIVE FILES…``.  Resumable through the checkpoints in ``--out``.

Run: ``python scripts/melting/liquid_anchors.py --out melting-output/ti``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from phasetune.jsonutil import to_jsonable
from phasetune.potentials.registry import load_potential
from phasetune.structures.crystals import crystal
from phasetune.ti import liquid_free_energy
from phasetune.ti.liquid_md import LiquidMDSettings
from phasetune.ti.liquid_volume import liquid_volume_path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--potential", default="lammps:Mo_Chen_PRM2017")
    ap.add_argument("--volumes", type=float, nargs="+", default=[18.1, 17.7, 18.5])
    ap.add_argument("--path-volumes", type=float, nargs="+",
                    default=[18.1, 17.9, 17.7, 18.3, 18.5])
    ap.add_argument("-T", "--temperature", type=float, default=2700.0)
    ap.add_argument("--cells", type=int, default=4)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--part", choices=["ti", "path", "combine"], default="combine")
    ap.add_argument("--model", default="θ0",
                    help="a θ label of docs/validation/mo.json (θ0 + 0.02|θ0|∘ξ perturbations): "
                         "--part ti only, for checks of D-DOS at perturbed θ")
    ap.add_argument("--out", default="melting-output/ti")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pot = load_potential(args.potential)
    t, v1 = args.temperature, args.volumes[0]
    atoms = crystal("bcc", "Mo", volume=v1, cells=args.cells)
    tag = "" if args.model == "θ0" else f"_{args.model}"
    ti_file = out / f"liquid_{v1:g}_{t:g}{tag}.json"
    if args.model != "θ0":
        truth = json.loads((Path(__file__).resolve().parents[2] / "docs" / "validation" /
                            "mo.json").read_text())
        pot = pot.with_theta(np.array(truth["thetas"][truth["labels"].index(args.model)]),
                             name=f"Mo_Chen_PRM2017_{args.model}")
    path_file = out / f"liquid_path_{t:g}.json"
    if args.part == "ti":
        res = liquid_free_energy(atoms, pot, [t], repeats=args.repeats, steps=args.steps,
                                 seed=11, checkpoint=out / f"liquid_{v1:g}_{t:g}{tag}_ck.json",
                                 progress="lines",
                                 md_settings=LiquidMDSettings(timestep=0.002))
        ti_file.write_text(json.dumps(to_jsonable({**res.to_dict(), "model": args.model}),
                                      indent=1))
        return
    if args.part == "path":
        path = liquid_volume_path(atoms, pot, args.path_volumes, t, steps=4000,
                                  equilibration=2000, seed=12,
                                  md_settings=LiquidMDSettings(timestep=0.002),
                                  checkpoint=out / f"liquid_path_{t:g}_ck.json",
                                  progress="lines")
        path_file.write_text(json.dumps(to_jsonable(path.to_dict()), indent=1))
        return
    ti = json.loads(ti_file.read_text())
    path = json.loads(path_file.read_text())
    row = ti["temperatures"][0]
    vols = np.array(path["volumes"])
    k1 = int(np.argmin(np.abs(vols - v1)))
    for v in args.volumes[1:]:
        k = int(np.argmin(np.abs(vols - v)))
        if abs(vols[k] - v) > 1e-9:
            raise SystemExit(f"volume {v} is not on the path {vols.tolist()}")
        d_f = path["dF_com_fixed"][k] - path["dF_com_fixed"][k1]
        d_phys = path["dF_phys"][k] - path["dF_phys"][k1]
        sigma = float(np.hypot(row["sigma"], path["sigma"][k]))
        derived = dict(ti, volume_box=v * ti["n_atoms"], volume_per_atom=v,
                       derived_by={"method": "volume path", "from_volume": v1,
                                   "path_file": path_file.name, "dF_3N-3": d_f,
                                   "sigma_path": path["sigma"][k]},
                       temperatures=[{"T": t, "F": row["F_3N-3"] + d_f,
                                      "F_3N-3": row["F_3N-3"] + d_f,
                                      "F_phys": row["F_phys"] + d_phys, "sigma": sigma}])
        name = out / f"liquid_{v:g}_{t:g}.json"
        name.write_text(json.dumps(to_jsonable(derived), indent=1))
        print(f"{name}: F_3N-3 = {row['F_3N-3'] + d_f:.6f} ± {1e3 * sigma:.2f} meV/atom")


if __name__ == "__main__":
    main()
