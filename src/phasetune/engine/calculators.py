"""Evaluators on top of an :class:`Engine` (the ASE Atoms/Calculator split):

* :class:`ForceEvaluator` — energy and forces of any LAMMPS potential;
* :class:`AtomEnergyEvaluator` — energy, forces, per-atom energies (``compute pe/atom``) and
  per-atom SNAP descriptors (``compute sna/atom``) of any LAMMPS potential: the training and test
  data of per-atom models;
* :class:`DescriptorEvaluator` — global descriptors D(X) (N_D,) of a SNAP descriptor spec: the
  per-atom average of ``compute sna/atom`` (per element block; for quadratic SNAP the compute
  also returns the per-atom products, which are averaged like the B), followed by the fixed
  component E_fix/N of any θ-independent overlay.  No SNAP pair forces are computed: a ``zero``
  pair style (overlaid with the fixed part, if any) supplies the neighbour list.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms

from ..potentials.linear import DescriptorSpec, LinearPotential, PairPotential
from ..potentials.mliap import NNPotential
from .session import Engine, lammps_float

SNA_ID = "pt_sna"
PE_ATOM_ID = "pt_pe_atom"


def sna_compute_command(spec: DescriptorSpec, compute_id: str = SNA_ID) -> str:
    """The ``compute sna/atom`` line reproducing ``pair_style snap`` with ``spec`` (per atom:
    ``spec.n_block`` columns, the K bispectrum components then, with ``quadraticflag 1``, their
    K(K+1)/2 products)."""
    p = spec.params
    radii = " ".join(lammps_float(r) for r in spec.radii)
    weights = " ".join(lammps_float(w) for w in spec.weights)
    flags = " ".join(f"{k} {lammps_float(p[k])}" if k == "rmin0" else f"{k} {int(p[k])}"
                     for k in ("rmin0", "switchflag", "bzeroflag", "bnormflag", "wselfallflag"))
    rcut, rfac0 = lammps_float(p.rcutfac), lammps_float(p["rfac0"])
    return (f"compute {compute_id} all sna/atom {rcut} {rfac0} {p.twojmax} "
            f"{radii} {weights} {flags} quadraticflag {int(spec.quadratic)}")


def descriptor_pair_commands(spec: DescriptorSpec) -> list[str]:
    """Pair commands for descriptor-only evaluation: ``zero`` (+ the fixed overlay)."""
    cut = lammps_float(spec.cutoff + 1e-6)
    if not spec.has_fixed:
        return [f"pair_style zero {cut}", "pair_coeff * *"]
    return [f"pair_style hybrid/overlay zero {cut} {' '.join(spec.fixed_style)}",
            "pair_coeff * * zero"] + ["pair_coeff " + " ".join(c) for c in spec.fixed_coeffs]


def _context(atoms: Atoms, what: str) -> str:
    structure = atoms.info.get("structure", atoms.get_chemical_formula())
    return f"setting up {structure} ({len(atoms)} atoms) with {what}"


class ForceEvaluator:
    """Energy (eV, total) and forces (N, 3, eV/Å) of a potential on configurations of ``atoms``.

    Args:
        atoms: the structure (cell, species, masses); positions are replaced per evaluation.
        potential: any :class:`PairPotential`, or a :class:`LinearPotential` (its LAMMPS form).
        engine: an engine to reuse (a new one is created otherwise).
        workdir: where a modified linear potential writes its files.
        with_descriptors: also define the descriptor compute (for identity checks).
    """

    def __init__(self, atoms: Atoms, potential: PairPotential | LinearPotential | NNPotential,
                 engine: Engine | None = None, workdir: str | Path | None = None,
                 with_descriptors: bool = False):
        self.atoms = atoms
        self.engine = engine or Engine()
        pair = potential
        if isinstance(potential, LinearPotential | NNPotential):
            pair = potential.pair_potential(workdir or Path.cwd())
        extra = []
        if with_descriptors:
            if not isinstance(potential, LinearPotential):
                raise TypeError("with_descriptors needs a LinearPotential")
            extra = [sna_compute_command(potential.spec)]
        self.potential = potential
        self.pair = pair
        """The LAMMPS form of ``potential`` that was loaded."""
        self.engine.load_structure(atoms, pair.commands(), extra=extra,
                                   context=_context(atoms, pair.name))
        self._types = _type_index(atoms)
        self._n_types = int(self._types.max()) + 1

    def energy_forces(self, positions: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """(E, F) at ``positions`` (N, 3) Å (current positions if None)."""
        self.engine.evaluate(positions)
        return self.engine.energy(), self.engine.forces()

    def forces(self, positions: np.ndarray) -> np.ndarray:
        self.engine.evaluate(positions)
        return self.engine.forces()

    def bispectrum_mean(self) -> np.ndarray:
        """Per-element-block mean bispectrum of the last evaluation (needs with_descriptors)."""
        return _blocks(self.engine, self._types, self._n_types)


class AtomEnergyEvaluator:
    """Energy (eV, total), forces (N, 3) eV/Å, per-atom energies (N,) eV and per-atom SNAP
    descriptors (N, n_block) of ``spec`` for configurations of ``atoms`` under ``potential``.

    Per-atom energies are LAMMPS's ``compute pe/atom`` (they sum to the energy); the descriptors
    are ``compute sna/atom`` of ``spec`` (types follow ``spec.elements``).

    Args:
        atoms: the structure; positions are replaced per evaluation.
        potential: any LAMMPS potential (a linear or nn potential is written into ``workdir`` when
            its θ was changed).
        spec: the descriptors to compute alongside.
        engine, workdir: as for :class:`ForceEvaluator`.
    """

    def __init__(self, atoms: Atoms, potential: PairPotential | LinearPotential | NNPotential,
                 spec: DescriptorSpec, engine: Engine | None = None,
                 workdir: str | Path | None = None):
        self.atoms = atoms.copy()
        self.atoms.info = dict(atoms.info, types=list(spec.elements))
        self.engine = engine or Engine()
        pair = potential
        if isinstance(potential, LinearPotential | NNPotential):
            pair = potential.pair_potential(workdir or Path.cwd())
        self.pair = pair
        self.engine.load_structure(
            self.atoms, pair.commands(),
            extra=[sna_compute_command(spec), f"compute {PE_ATOM_ID} all pe/atom"],
            context=_context(atoms, pair.name))
        self.species = _type_index(self.atoms)
        """(N,) index of each atom's element in ``spec.elements``."""

    def evaluate(self, positions: np.ndarray | None = None
                 ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """(E eV, forces (N, 3) eV/Å, per-atom energies (N,) eV, descriptors (N, n_block)) at
        ``positions`` (N, 3) Å (the current ones if None)."""
        self.engine.evaluate(positions)
        return (self.engine.energy(), self.engine.forces().copy(),
                self.engine.per_atom_scalar(PE_ATOM_ID), self.engine.per_atom_compute(SNA_ID))


def _type_index(atoms: Atoms) -> np.ndarray:
    symbols = atoms.get_chemical_symbols()
    types = list(atoms.info.get("types") or dict.fromkeys(symbols))
    return np.array([types.index(s) for s in symbols])


def _blocks(engine: Engine, types: np.ndarray, n_types: int) -> np.ndarray:
    """(n_types · n_B,) block sums of per-atom bispectra divided by N; ``types`` (N,) holds each
    atom's type index, ``n_types`` is ``types.max() + 1``."""
    if n_types == 1:
        return engine.compute_mean(SNA_ID)
    b = engine.per_atom_compute(SNA_ID)
    out = np.zeros((n_types, b.shape[1]))
    np.add.at(out, types, b)
    return (out / len(types)).ravel()


def descriptor_evaluator(atoms: Atoms, spec, engine: Engine | None = None):
    """The evaluator of ``spec``: a SNAP :class:`DescriptorEvaluator`, or the spec's own (a spec
    with an ``evaluator(atoms, engine)`` method, e.g. tangent descriptors of a non-linear
    potential, :class:`~phasetune.nonlinear.tangent.TangentSpec`)."""
    own = getattr(spec, "evaluator", None)
    return own(atoms, engine) if own is not None else DescriptorEvaluator(atoms, spec, engine)


class DescriptorEvaluator:
    """Global descriptors D(X), (N_D,), of ``spec`` on configurations of ``atoms``.

    Element blocks follow ``spec.elements``; ``atoms.info['types']`` is set accordingly.
    """

    def __init__(self, atoms: Atoms, spec: DescriptorSpec, engine: Engine | None = None):
        self.atoms = atoms.copy()
        self.atoms.info = dict(atoms.info, types=list(spec.elements))
        self.spec = spec
        self.engine = engine or Engine()
        self.engine.load_structure(
            self.atoms, descriptor_pair_commands(spec), extra=[sna_compute_command(spec)],
            context=_context(atoms, "descriptor-only SNAP compute"))
        self._types = _type_index(self.atoms)
        self._n_types = int(self._types.max()) + 1
        self.n_atoms = len(atoms)

    def descriptors(self, positions: np.ndarray | None = None) -> np.ndarray:
        """D(X) per atom, (N_D,), at ``positions`` (N, 3) Å."""
        self.engine.evaluate(positions)
        d = _blocks(self.engine, self._types, self._n_types)
        if self.spec.has_fixed:
            d = np.append(d, self.engine.energy() / self.n_atoms)
        return d

    def batch(self, positions: np.ndarray) -> np.ndarray:
        """D for a batch of configurations (B, N, 3) Å → (B, N_D); row k is exactly
        ``descriptors(positions[k])`` (B may be 0)."""
        out = np.empty((len(positions), self.spec.n_components))
        for k, x in enumerate(positions):
            out[k] = self.descriptors(x)
        return out
