#!/usr/bin/env python
"""Liquid TI ground truth for docs/ti.md ("Liquids", issue 15 item 1): liquid Mo with
Mo_Chen_PRM2017 (SNAP), 128 atoms (bcc 4×4×4 melted), V = 18.5 Å³/atom (⟨P⟩ ≈ 0 at 3200 K),
T = 3200 K, 2 repeats, 2 fs steps.  Writes ``docs/melting/liquid_ti_mo_3200.json``.

``--uf-check`` instead runs the Uhlenbeck–Ford leg alone with another quadrature (16 nodes,
λ′ = t²) at the same N and density, for comparison with the F_ex_UF of the main run.

Resumable: finished repeats are kept in ``--checkpoint`` (default under /tmp).

Run (one process; serial MD):
``PYTHONPATH=src OMP_NUM_THREADS=1 python scripts/melting/liquid_ti_mo.py [--uf-check]``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from phasetune.jsonutil import to_jsonable
from phasetune.potentials.registry import load_potential
from phasetune.structures.crystals import crystal
from phasetune.ti import LiquidMDSettings, LiquidSettings, UFSettings, liquid_free_energy

VOLUME = 18.5
TEMPERATURE = 3200.0
MD = LiquidMDSettings(timestep=0.002)
SETTINGS = LiquidSettings(
    n_nodes=8, power=1.0, equilibration=400, production=2100,
    uf_nodes=12, uf_power=3.0, uf_equilibration=1000, uf_production=65000,
    melt_factor=2.0, melt_steps=1000, endpoint_equilibration=1000, endpoint_production=3000)


def cell():
    atoms = crystal("bcc", "Mo", volume=VOLUME, cells=4)
    atoms.info.update(lattice="bcc", structure="liquid")
    return atoms


def main_run(checkpoint: str, out: Path) -> None:
    pot = load_potential("lammps:Mo_Chen_PRM2017.snap")
    result = liquid_free_energy(cell(), pot, [TEMPERATURE], repeats=2, seed=15,
                                checkpoint=checkpoint, progress="lines",
                                lambda_settings=SETTINGS, md_settings=MD)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(to_jsonable(result.to_dict()), indent=1, ensure_ascii=False))
    p = result.to_dict()["temperatures"][0]
    print(f"F_3N-3 = {p['F']:.6f} ± {1e3 * p['sigma']:.3f} meV, F_phys = {p['F_phys']:.6f}, "
          f"P = {p['endpoint']['P_GPa']:.3f} GPa, D = {p['endpoint']['D']:.3f} Å²/ps, "
          f"CPU {p['cpu_seconds']:.0f} s")


def uf_check(out: Path) -> None:
    """The UF leg alone (no target) with 16 nodes, λ′ = t²."""
    from phasetune.ti.liquid_md import LiquidMD
    from phasetune.ti.liquid_path import combine_nodes, uf_leg

    atoms = cell()
    rng = np.random.default_rng(np.random.SeedSequence([15, 99]))
    settings = LiquidSettings(uf_nodes=16, uf_power=2.0, uf_equilibration=1000,
                              uf_production=45000)
    cpu = time.process_time()
    md = LiquidMD(atoms, None, UFSettings(), TEMPERATURE, MD)
    try:
        md.set_coupling(0.0, 1.0)
        md.start(rng, 2 * TEMPERATURE)
        md.run(2000, record=())  # the UF fluid forgets the bcc start …
        md.start(rng)  # … then velocities and thermostat at T (ε = p·k_BT is fixed at T)
        md.run(2000, record=())
        nodes = uf_leg(md, None, settings)
    finally:
        md.close()
    f_ex, sigma = combine_nodes(nodes)
    data = {"F_ex_UF": f_ex, "sigma": sigma, "nodes": nodes, "settings": settings.to_dict(),
            "cpu_seconds": time.process_time() - cpu}
    print(f"F_ex_UF (16 nodes, λ′ = t²) = {f_ex:.6f} ± {1e3 * sigma:.3f} meV", flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(to_jsonable(data), indent=1, ensure_ascii=False))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="/tmp/liquid_ti_mo_3200.ck.json")
    parser.add_argument("--out", type=Path, default=Path("docs/melting/liquid_ti_mo_3200.json"))
    parser.add_argument("--uf-check", action="store_true")
    args = parser.parse_args()
    if args.uf_check:
        uf_check(args.out.with_name("liquid_ti_mo_3200_uf_check.json"))
    else:
        main_run(args.checkpoint, args.out)
