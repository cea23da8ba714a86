"""One LAMMPS instance, owned by one :class:`Engine`, reused for many evaluations.

The engine holds a periodic cell of N atoms in a fixed order (``atom_modify sort 0``, positions set
through the atom-ID map), a set of pair commands, and optional computes.  Every LAMMPS failure is
raised as :class:`EngineError` naming the failing command and what was being set up.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from ase import Atoms

from ..errors import EngineError
from .mpi import require_lammps


def lammps_float(value: float) -> str:
    """A float as LAMMPS reads it back exactly."""
    return repr(float(value))


def lammps_cell(cell: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LAMMPS's lower-triangular form of a cell (rows a, b, c).

    Returns:
        (cell_lmp, rotation) with ``cell_lmp = cell @ rotation``; positions transform the same
        way, and forces back with ``rotation.T``.
    """
    a, b, c = np.asarray(cell, dtype=float)
    lx = np.linalg.norm(a)
    xy = b @ a / lx
    ly = np.sqrt(b @ b - xy**2)
    xz = c @ a / lx
    yz = (b @ c - xy * xz) / ly
    lz = np.sqrt(c @ c - xz**2 - yz**2)
    cell_lmp = np.array([[lx, 0, 0], [xy, ly, 0], [xz, yz, lz]])
    rotation = np.linalg.solve(np.asarray(cell, dtype=float), cell_lmp)
    return cell_lmp, rotation


class Engine:
    """A LAMMPS session in metal units for one periodic structure at a time.

    Args:
        log_file: where LAMMPS writes its log (nothing is written to the terminal); None = no log.
        label: text identifying this engine in error messages.
    """

    def __init__(self, log_file: str | Path | None = None, label: str = ""):
        lammps = require_lammps()
        self._lammps_module = lammps
        args = ["-screen", "none", "-nocite", "-log", str(log_file) if log_file else "none"]
        kwargs = {}
        if "mpi4py.MPI" in sys.modules:
            # under mpiexec (mpi4py.futures workers) each engine is serial: one rank, its own
            # communicator, never the world communicator the other workers would have to join
            kwargs["comm"] = sys.modules["mpi4py.MPI"].COMM_SELF
        try:
            self.lmp = lammps.lammps(cmdargs=args, **kwargs)
        except Exception as exc:  # pragma: no cover - library-level failure
            raise EngineError(f"LAMMPS could not start: {exc}") from exc
        self.label = label
        self.context = "starting LAMMPS"
        self.n_atoms = 0
        self.rotation = np.eye(3)
        self._order: np.ndarray | None = None
        self._aligned = True
        """The cell needs no rotation (``rotation`` is exactly the identity)."""
        self._in_order = True
        """LAMMPS holds the atoms in the structure's order (``_order`` is 0 … N−1)."""
        self._views: dict[tuple, tuple[int, np.ndarray]] = {}
        """Cached numpy views of LAMMPS arrays: key → (data address, view)."""

    # -- commands ---------------------------------------------------------------------------
    def command(self, cmd: str) -> None:
        """Run one LAMMPS command; failures raise :class:`EngineError` with the context."""
        try:
            self.lmp.command(cmd)
        except Exception as exc:
            where = f" while {self.context}" if self.context else ""
            who = f" [{self.label}]" if self.label else ""
            lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()] or [repr(exc)]
            message = next((ln for ln in lines if ln.startswith("ERROR")), lines[0])
            raise EngineError(f"LAMMPS command {cmd!r} failed{where}{who}: {message}") from exc

    def commands(self, cmds: Iterable[str]) -> None:
        for cmd in cmds:
            self.command(cmd)

    @property
    def version(self) -> int:
        return int(self.lmp.version())

    # -- structure --------------------------------------------------------------------------
    def load_structure(self, atoms: Atoms, pair_commands: list[str], *,
                       extra: Iterable[str] = (), context: str = "") -> None:
        """Start afresh (``clear``) with ``atoms`` and a potential.

        Args:
            atoms: periodic single- or multi-element structure; masses from ``atoms``.
            pair_commands: ``pair_style``/``pair_coeff`` lines (LAMMPS types follow the order of
                first appearance of each element in ``atoms``, unless ``atoms.info['types']``
                lists element names in type order).
            extra: further commands (computes) run after the potential is defined.
            context: description used in error messages (structure and potential).
        """
        self.context = context or f"setting up {atoms.get_chemical_formula()}"
        self._views.clear()
        if not all(atoms.pbc):
            raise EngineError("the engine needs a periodic structure (pbc on all axes)")
        symbols = atoms.get_chemical_symbols()
        types = list(atoms.info.get("types") or dict.fromkeys(symbols))
        type_of = np.array([types.index(s) + 1 for s in symbols], dtype=np.int32)
        cell_lmp, self.rotation = lammps_cell(np.array(atoms.cell))
        (lx, _, _), (xy, ly, _), (xz, yz, lz) = (map(lammps_float, row) for row in cell_lmp)
        triclinic = max(abs(cell_lmp[1, 0]), abs(cell_lmp[2, 0]), abs(cell_lmp[2, 1])) > 1e-12
        region = (f"region box prism 0 {lx} 0 {ly} 0 {lz} {xy} {xz} {yz}"
                  if triclinic else f"region box block 0 {lx} 0 {ly} 0 {lz}")
        self.commands(["clear", "units metal", "atom_style atomic", "boundary p p p",
                       "atom_modify map array sort 0 0.0", region,
                       f"create_box {len(types)} box"])
        positions = np.asarray(atoms.positions, dtype=float) @ self.rotation
        self.n_atoms = len(atoms)
        try:
            self.lmp.create_atoms(self.n_atoms, list(range(1, self.n_atoms + 1)),
                                  type_of.tolist(), positions.ravel().tolist())
        except Exception as exc:
            raise EngineError(f"LAMMPS could not create atoms while {self.context}: {exc}") from exc
        masses = atoms.get_masses()
        for t, element in enumerate(types, start=1):
            self.command(f"mass {t} {lammps_float(masses[symbols.index(element)])}")
        self.commands(pair_commands)
        self.commands(extra)
        self.commands(["thermo_style custom step pe", "thermo_modify norm no"])
        self.run0()
        self._bind_arrays()

    def _bind_arrays(self) -> None:
        if self.lmp.extract_setting("nlocal") != self.n_atoms:
            raise EngineError("phasetune's engine runs one LAMMPS process per worker; "
                              "this instance was split across MPI ranks")
        ids = np.array(self.lmp.numpy.extract_atom("id", nelem=self.n_atoms, dim=1), copy=True)
        self._order = np.argsort(ids)  # local index of atom with id k+1
        self._in_order = bool(np.array_equal(self._order, np.arange(self.n_atoms)))
        self._aligned = bool(np.array_equal(self.rotation, np.eye(3)))

    def _view(self, key: tuple, pointer, cols: int) -> np.ndarray:
        """A numpy view (N, cols) of the first N rows of a LAMMPS ``double **`` per-atom array.

        LAMMPS may reallocate its arrays between runs (ghost atoms change), so the pointer is
        fetched on every use; the view is rebuilt only when the data address has changed."""
        if not pointer or not pointer[0]:
            raise EngineError(f"LAMMPS returned no data for {key[0]} {key[1]!r} while "
                              f"{self.context}")
        address = ctypes.cast(pointer[0], ctypes.c_void_p).value
        cached = self._views.get(key)
        if cached is not None and cached[0] == address:
            return cached[1]
        view = np.ctypeslib.as_array(pointer[0], shape=(self.n_atoms, cols))
        self._views[key] = (address, view)
        return view

    def _atom_array(self, name: str) -> np.ndarray:
        """A live view (N, 3) of a per-atom vector array (``x``, ``v``, ``f``) restricted to the N
        local atoms, in LAMMPS's frame and local order."""
        pointer = self.lmp.extract_atom(name, self._lammps_module.LAMMPS_DOUBLE_2D)
        return self._view(("atom", name, 3), pointer, 3)

    def run0(self) -> None:
        """Evaluate the current configuration (``run 0``): energies, forces, computes."""
        self.command("run 0 post no")

    # -- state --------------------------------------------------------------------------------
    def _set_vectors(self, name: str, label: str, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=float)
        if values.shape != (self.n_atoms, 3):
            raise EngineError(f"{label} have shape {values.shape}, expected ({self.n_atoms}, 3)")
        if not self._aligned:  # (x @ identity is x: skipped)
            values = values @ self.rotation
        if self._in_order:
            self._atom_array(name)[...] = values
        else:
            self._atom_array(name)[self._order] = values

    def set_positions(self, positions: np.ndarray) -> None:
        """Set Cartesian positions (N, 3) Å in ASE's frame, in the structure's atom order."""
        self._set_vectors("x", "positions", positions)

    def set_velocities(self, velocities: np.ndarray) -> None:
        """Set velocities (N, 3) Å/ps in ASE's frame, in the structure's atom order."""
        self._set_vectors("v", "velocities", velocities)

    def velocities(self) -> np.ndarray:
        """Current velocities (N, 3) Å/ps in ASE's frame and atom order."""
        return self._atom_array("v")[self._order] @ self.rotation.T

    def evaluate(self, positions: np.ndarray | None = None) -> None:
        """Optionally set positions, then ``run 0``."""
        if positions is not None:
            self.set_positions(positions)
        self.run0()

    def positions(self) -> np.ndarray:
        """Current positions (N, 3) Å in ASE's frame and atom order (wrapped into the cell)."""
        return self._atom_array("x")[self._order] @ self.rotation.T

    def energy(self) -> float:
        """Potential energy of the last evaluation, eV (total, not per atom)."""
        return float(self.lmp.get_thermo("pe"))

    def forces(self) -> np.ndarray:
        """Forces (N, 3) eV/Å of the last evaluation, in ASE's frame and atom order."""
        return self._atom_array("f")[self._order] @ self.rotation.T

    def _compute_array(self, compute_id: str) -> np.ndarray:
        """A live view (N, n_cols) of a per-atom array compute, in LAMMPS's local order (the
        compute is invoked by LAMMPS if it has not run since the last evaluation)."""
        lmp, module = self.lmp, self._lammps_module
        pointer = lmp.extract_compute(compute_id, module.LMP_STYLE_ATOM, module.LMP_TYPE_ARRAY)
        cols = lmp.extract_compute(compute_id, module.LMP_STYLE_ATOM, module.LMP_SIZE_COLS)
        if not pointer or not cols:
            raise EngineError(f"compute {compute_id!r} returned nothing while {self.context}")
        return self._view(("compute", compute_id, cols), pointer, cols)

    def per_atom_compute(self, compute_id: str) -> np.ndarray:
        """A per-atom array compute (N, n_cols), in atom order (a view-free copy)."""
        return self._compute_array(compute_id)[self._order]

    def per_atom_scalar(self, compute_id: str) -> np.ndarray:
        """A per-atom vector compute (N,) (e.g. ``pe/atom``), in atom order (a copy)."""
        lmp, module = self.lmp, self._lammps_module
        values = lmp.numpy.extract_compute(compute_id, module.LMP_STYLE_ATOM,
                                           module.LMP_TYPE_VECTOR)
        if values is None:
            raise EngineError(f"compute {compute_id!r} returned nothing while {self.context}")
        return np.array(values[: self.n_atoms])[self._order]

    def per_atom_vectors(self, compute_id: str) -> np.ndarray:
        """A per-atom compute laid out as [x-block, y-block, z-block] (e.g. ``snad/atom``),
        returned as (N, 3, n_cols/3) in ASE's frame and atom order."""
        arr = self.per_atom_compute(compute_id)
        vectors = arr.reshape(self.n_atoms, 3, arr.shape[1] // 3)
        return np.einsum("iak,ba->ibk", vectors, self.rotation)

    def compute_mean(self, compute_id: str) -> np.ndarray:
        """Column means (n_cols,) of a per-atom array compute (order-independent; no copy of the
        rows).  Exactly ``arr.mean(axis=0)``: the column sums divided by N."""
        return np.add.reduce(self._compute_array(compute_id), axis=0) / self.n_atoms

    def close(self) -> None:
        if getattr(self, "lmp", None) is not None:
            self.lmp.close()
            self.lmp = None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - interpreter shutdown order varies
        try:
            self.close()
        except Exception:
            pass
