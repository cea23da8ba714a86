"""Frames of θ0 for reweighting: NVT or NPT Langevin MD recording per-atom descriptors.

NVT runs :class:`~phasetune.ti.md.CoupledMD` (``plain`` mode: the target alone, COM fixed, as
the TI runs); NPT runs :class:`~phasetune.ti.barostat.BarostatMD` at λ = 1 (Langevin NPH, COM
fixed).  After ``equilibration`` steps, every ``stride`` steps a frame is recorded: the per-atom
descriptors B (N, K) of ``compute sna/atom`` for the potential's
:class:`~phasetune.potentials.linear.DescriptorSpec`, the potential energy U0 (eV, total), the
volume and cell, and the positions.  Each frame's Bragg order (mean S(G)/N over the lattice's
first Bragg vectors) must stay above MELTED_ORDER, else :class:`CrystalMeltedError`.

Frames are produced in chunks of ``chunk_frames``; after each chunk the frame store is rewritten
atomically with the MD state (positions, velocities, cell).  Every chunk recreates the Langevin
thermostat with a seed derived from (seed, chunk), so an interrupted NVT run resumed from its
store continues exactly as the uninterrupted run would have (an NPT run restarts its barostat
momentum from zero at the resume point).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from ..campaign.samplers import MELTED_ORDER
from ..constants import GPA_TO_EV_PER_A3
from ..engine.calculators import sna_compute_command
from ..errors import CrystalMeltedError, PhasetuneError
from ..harmonic.reference import describe
from ..nonlinear.model import descriptor_spec, model_for
from ..potentials.linear import PairPotential
from ..structures.crystals import check_cell_size
from ..structures.order import bragg_order, bragg_reference
from ..ti.barostat import BarostatMD, NPTSettings
from ..ti.checkpoint import fingerprint
from ..ti.md import CoupledMD, MDSettings, lammps_seed
from ..ti.npt import check_pressure, scaled_to, site_reference
from .store import FrameStore, read_frames, write_frames

SNA_ID = "pt_sna"
"""The per-atom descriptor compute :func:`~phasetune.ti.md.descriptor_commands` defines."""


@dataclass(frozen=True)
class SamplingSettings:
    """Steps and integration settings of one frame run.

    Attributes:
        steps: production steps (a multiple of ``stride``); steps/stride frames are recorded.
        stride: steps between frames.
        equilibration: steps discarded first.
        chunk_frames: frames between store commits (and thermostat reseeds).
        timestep: ps.  damping: Langevin damping time, ps.  pressure_damping: barostat time, ps.
    """

    steps: int = 20_000
    stride: int = 20
    equilibration: int = 2_000
    chunk_frames: int = 50
    timestep: float = 1e-3
    damping: float = 0.04
    pressure_damping: float = 1.0

    def __post_init__(self) -> None:
        if self.stride < 1 or self.steps < self.stride or self.steps % self.stride:
            raise PhasetuneError(f"steps ({self.steps}) must be a positive multiple of stride "
                                 f"({self.stride})", "choose steps = stride × frames")
        if self.equilibration < 0 or self.equilibration % self.stride:
            raise PhasetuneError(f"equilibration ({self.equilibration}) must be a multiple of "
                                 f"stride ({self.stride})")
        if self.chunk_frames < 1:
            raise PhasetuneError("chunk_frames must be at least 1")

    @property
    def n_frames(self) -> int:
        return self.steps // self.stride

    def to_dict(self) -> dict:
        return asdict(self)


class _Run:
    """One MD engine (NVT or NPT) and the frame it reads after every stride."""

    def __init__(self, atoms: Atoms, pair: PairPotential, spec: Any, temperature: float,
                 pressure: float | None, settings: SamplingSettings, label: str):
        self.npt = pressure is not None
        self.atoms = atoms
        if self.npt:
            npt = NPTSettings(timestep=settings.timestep, damping=settings.damping,
                              pressure_damping=settings.pressure_damping,
                              stride=settings.stride, chunk=settings.stride)
            self.md = BarostatMD(atoms, pair, temperature, npt, label=label)
            self.md.engine.command(sna_compute_command(spec, SNA_ID))
            self.pressure = float(pressure)
        else:
            md = MDSettings(timestep=settings.timestep, damping=settings.damping,
                            stride=settings.stride, chunk=settings.stride)
            self.md = CoupledMD(atoms, site_reference(atoms), pair, temperature, md,
                                mode="plain", descriptors=spec, label=label)
        self.engine = self.md.engine

    def set_state(self, positions: np.ndarray, velocities: np.ndarray) -> None:
        self.engine.command("set group all image 0 0 0")
        self.engine.set_positions(positions)
        self.engine.set_velocities(velocities)

    def reseed(self, seed: int) -> None:
        if self.npt:
            self.md.set_path((1.0, 1.0), (self.pressure, self.pressure), seed)
        else:
            self.md.set_thermostat(seed)

    def advance(self, n_steps: int) -> None:
        self.md.run(n_steps, record=())

    def cell(self) -> np.ndarray:
        return self.md.cell() if self.npt else np.array(self.atoms.cell)

    def frame(self) -> tuple[np.ndarray, float, float, np.ndarray, np.ndarray]:
        """(B (N, K), U0 eV, volume Å³, cell (3, 3), positions (N, 3)) at the current step."""
        cell = self.cell()
        return (self.engine.per_atom_compute(SNA_ID), self.engine.energy(),
                abs(float(np.linalg.det(cell))), cell, self.engine.positions())

    def close(self) -> None:
        self.md.close()


def _chunk_seed(seed: int, chunk: int) -> int:
    return lammps_seed(np.random.default_rng(np.random.SeedSequence([seed, 11, chunk])))


def sample_frames(atoms: Atoms, potential: Any, temperature: float, out: str | Path, *,
                  pressure: float | None = None, settings: SamplingSettings | None = None,
                  seed: int = 0, progress: Callable[[int, int], None] | None = None,
                  stop_after_chunks: int | None = None) -> FrameStore:
    """Sample frames of ``potential`` (θ0) on ``atoms`` into the HDF5 store ``out`` (module doc).

    Args:
        atoms: the crystal (``structures.crystals.crystal``), its cell fixed for NVT, the start
            for NPT.
        potential: a LinearPotential (or any potential with ``spec``, ``pair_potential`` and a
            :func:`~phasetune.nonlinear.model.model_for` model).
        temperature: K.
        out: the frame store; an existing incomplete store of the same run is resumed, a
            complete one returned as is, one of another run refused.
        pressure: eV/Å³ for NPT (δG), None for NVT (δF).
        settings: steps, stride, equilibration, chunking.
        seed: base seed (velocities and every chunk's thermostat derive from it).
        progress: called with (frames done, frames wanted) after every chunk.
        stop_after_chunks: stop (store committed) after this many chunks of this call — an
            interruption for tests and for splitting a run over sessions.

    Returns:
        The :class:`FrameStore` (``complete`` unless stopped early).
    """
    settings = settings or SamplingSettings()
    if not temperature > 0:
        raise PhasetuneError(f"temperature {temperature} K must be positive")
    if pressure is not None:
        pressure = check_pressure(pressure)
    spec = descriptor_spec(potential)
    model, theta0 = model_for(potential)
    out = Path(out)
    with tempfile.TemporaryDirectory() as workdir:
        pair = potential.pair_potential(workdir) if hasattr(potential, "pair_potential") \
            else potential
        if pair.cutoff is not None:
            check_cell_size(atoms, pair.cutoff)
        run_spec = {"potential": pair.describe(), "descriptor": spec.as_dict(),
                    "structure": describe(atoms), "n_atoms": len(atoms),
                    "temperature": float(temperature),
                    "pressure": None if pressure is None else float(pressure),
                    "ensemble": "nvt" if pressure is None else "npt", "seed": int(seed),
                    "settings": settings.to_dict(),
                    "cell0": np.asarray(atoms.cell).tolist()}
        metadata = {**run_spec, "fingerprint": fingerprint(run_spec),
                    "theta0": theta0.tolist(), "model": type(model).__name__,
                    "stride": settings.stride,
                    "equilibration": settings.equilibration, "steps": settings.steps,
                    "pressure_GPa": None if pressure is None else pressure / GPA_TO_EV_PER_A3,
                    "units": {"energy": "eV (total)", "volume": "Å³ (box)", "cell": "Å",
                              "temperature": "K", "pressure": "eV/Å³"}}
        if out.exists():
            store = read_frames(out)
            if store.metadata.get("fingerprint") != metadata["fingerprint"]:
                raise PhasetuneError(f"{out} holds frames of a different run (potential, "
                                     "structure, T, P, settings or seed differ)",
                                     "rerun with the original settings, or choose another out")
            if store.complete:
                return store
        else:
            store = FrameStore.empty(metadata, len(atoms), spec.n_block)
        return _sample(atoms, pair, spec, store, out, pressure, settings, seed, progress,
                       stop_after_chunks)


def _sample(atoms: Atoms, pair: PairPotential, spec: Any, store: FrameStore, out: Path,
            pressure: float | None, settings: SamplingSettings, seed: int,
            progress: Callable[[int, int], None] | None,
            stop_after_chunks: int | None) -> FrameStore:
    t = store.temperature
    where = f"{describe(atoms)} at {t:g} K ({store.ensemble} frames)"
    kvectors, perfect = bragg_reference(atoms.positions, np.array(atoms.cell))
    reference_cell = np.array(atoms.cell)
    state = store.state
    start = atoms
    if state is not None and pressure is not None:
        start = atoms.copy()
        start.set_cell(state["cell"], scale_atoms=False)
    run = _Run(start, pair, spec, t, pressure, settings, where)
    try:
        if state is None:
            rng = np.random.default_rng(np.random.SeedSequence([seed, 11]))
            velocities = site_reference(atoms).sample_velocities(rng, t)
            run.set_state(np.array(atoms.positions), velocities)
            chunk = 0
            if settings.equilibration:
                run.reseed(_chunk_seed(seed, 0))
                for _ in range(settings.equilibration // settings.stride):
                    run.advance(settings.stride)
                    _check_order(run.engine.positions(), run.cell(), reference_cell,
                                 (kvectors, perfect), where, run.md.step)
        else:
            run.set_state(state["positions"], state["velocities"])
            chunk = int(state["chunk"])
        wanted = settings.n_frames
        done_chunks = 0
        while store.n_frames < wanted:
            run.reseed(_chunk_seed(seed, 1 + chunk))
            n = min(settings.chunk_frames, wanted - store.n_frames)
            rows = []
            for _ in range(n):
                run.advance(settings.stride)
                b, u, v, cell, x = run.frame()
                _check_order(x, cell, reference_cell, (kvectors, perfect), where, run.md.step)
                rows.append((b, u, v, cell, x))
            step0 = int(store.step[-1]) if store.n_frames else 0
            store.append(np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
                         np.array([r[2] for r in rows]), np.array([r[3] for r in rows]),
                         np.array([r[4] for r in rows]),
                         step0 + settings.stride * np.arange(1, n + 1))
            chunk += 1
            done_chunks += 1
            finished = store.n_frames >= wanted
            store.state = None if finished else {
                "positions": run.engine.positions(), "velocities": run.engine.velocities(),
                "cell": run.cell(), "step": int(store.step[-1]), "chunk": chunk}
            write_frames(out, store)
            if progress is not None:
                progress(store.n_frames, wanted)
            if stop_after_chunks is not None and done_chunks >= stop_after_chunks:
                break
    finally:
        run.close()
    return store


def _check_order(positions: np.ndarray, cell: np.ndarray, reference_cell: np.ndarray,
                 bragg: tuple[np.ndarray, float], where: str, step: int) -> None:
    """Refuse a frame whose Bragg order (relative to the perfect crystal's, ``bragg`` =
    (vectors, perfect order)) fell below MELTED_ORDER (the crystal melted)."""
    kvectors, perfect = bragg
    order = bragg_order(scaled_to(positions, cell, reference_cell), kvectors) / perfect
    if order < MELTED_ORDER:
        raise CrystalMeltedError(
            f"{where}: the Bragg order S(G)/S_perfect(G) fell to {order:.2f} "
            f"(< {MELTED_ORDER}) at step {step}: the crystal melted or transformed; no frames "
            "are usable beyond it",
            "sample at a lower temperature (or a pressure where this phase is stable)")
