"""The demo behind ``make demo``: Mo (Mo_Chen_PRM2017 SNAP), BCC against A15.

Step 1 (this file, today): relaxed lattices, Hessians and classical harmonic free energies of
54-atom BCC and 64-atom A15 Mo, printed as a table and plotted to PNG.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from phasetune.harmonic.analysis import harmonic_analysis
from phasetune.plots import plot_free_energies
from phasetune.potentials.registry import load_potential
from phasetune.structures.crystals import crystal

PHASES = {"bcc": 3, "a15": 2}  # supercell repetitions: 54 and 64 atoms
VOLUME = 15.9  # Å³/atom


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="demo-output", help="output directory")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    potential = load_potential("lammps:Mo_Chen_PRM2017")
    temperatures = np.linspace(100, 2500, 13)
    results = {}
    for phase, cells in PHASES.items():
        atoms = crystal(phase, "Mo", volume=VOLUME, cells=cells)
        results[phase] = harmonic_analysis(atoms, potential, temperatures)

    print(f"Harmonic free energies of Mo ({potential.name}), {VOLUME} Å³/atom, classical, "
          "r = 3 modes/atom; F = E0 + F_H in eV/atom")
    print(f"{'T (K)':>8} " + " ".join(f"{'F_' + p:>14}" for p in results) + f" {'F_a15-F_bcc':>14}")
    for k, t in enumerate(temperatures):
        row = [results[p].F[k] for p in results]
        print(f"{t:8.0f} " + " ".join(f"{f:14.6f}" for f in row) + f" {row[1] - row[0]:14.6f}")
    png = plot_free_energies(
        {p: (r.temperatures, r.F, None) for p, r in results.items()}, out / "harmonic_mo.png",
        title="Mo_Chen_PRM2017: harmonic F(T), A15 relative to BCC", reference="bcc")
    (out / "harmonic_mo.json").write_text(
        json.dumps({p: r.to_dict() for p, r in results.items()}, indent=2, ensure_ascii=False))
    print(f"wrote {png} and {out / 'harmonic_mo.json'}")


if __name__ == "__main__":
    main()
