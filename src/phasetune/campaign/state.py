"""The in-parent state of a campaign: one :class:`Group` per (phase, volume), one
:class:`ShellState` per shell, built from the spec and any existing archive.

Each group's reference lattice and modes are computed once here (``build_reference`` with the
Hessian disk cache), or taken from the archive when the (phase, volume) is already there, so
appended samples are centred on exactly the archived X0(V) and modes.  Shells merge finished
chunks **in chunk order** (out-of-order arrivals wait), which makes the archive independent of the
number of workers and of the completion order.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..archive.schema import VOLUME_RTOL, Archive
from ..archive.stats import ALPHA_TOL, ShellAccumulator, default_pilot_size
from ..errors import ConfigError, PhasetuneError
from ..harmonic.reference import build_reference
from ..model import DescriptorInfo, HarmonicReference, PhaseVolume, ShellStats
from ..potentials.linear import LinearPotential, pair_form
from ..structures.crystals import crystal
from .isosurfaces import isosurface_grid
from .samplers import KINETIC_LABEL, SampleBatch
from .spec import CampaignSpec, PhaseSpec, descriptor_spec, reference_potential
from .tasks import ChunkTask, GroupPayload, volume_tag

IDENTITY_TOL = 1e-8
"""Largest |E0_ref − (β0 + θ·D0)|, eV/atom, for energies computed from descriptors (§2.1)."""


@dataclass
class ShellState:
    """One shell of a group: its accumulator, merge cursor and bookkeeping.

    ``n_chunks`` is 0 for shells that are in the archive but no longer in the spec (kept as is).
    """

    alpha: float
    index: int
    n_chunks: int
    acc: ShellAccumulator | None
    frozen: ShellStats | None = None
    with_energies: bool = False
    done: set[int] = field(default_factory=set)
    empty_chunks: set[int] = field(default_factory=set)
    pending: dict[int, tuple[SampleBatch, Path | None]] = field(default_factory=dict)
    uncommitted: list[Path] = field(default_factory=list)
    n_unphysical: int = 0
    examples: list[str] = field(default_factory=list)
    max_energy_drift: float = 0.0
    order: tuple[float, float] | None = None
    """Kinetic shells: the range of the samples' Bragg order (mean S(k)/N at the lattice's first
    Bragg peak: a crystal ≈ 0.5–1, a liquid ≈ 1/N), None for Hessian shells."""
    frame_forced: bool = False

    @property
    def next_chunk(self) -> int:
        k = 0
        while k in self.done:
            k += 1
        return k

    @property
    def complete(self) -> bool:
        return all(k in self.done for k in range(self.n_chunks))

    def todo(self) -> list[int]:
        """Chunks neither merged nor waiting."""
        return [k for k in range(self.n_chunks) if k not in self.done and k not in self.pending]

    def offer(self, chunk: int, batch: SampleBatch, path: Path | None) -> int:
        """Accept a finished chunk; merge every chunk now contiguous.  Returns samples merged."""
        if chunk in self.done or chunk in self.pending:
            if path is not None:
                self.uncommitted.append(path)  # a duplicate spool file: delete at next commit
            return 0
        self.pending[chunk] = (batch, path)
        merged = 0
        while (k := self.next_chunk) in self.pending:
            batch, path = self.pending.pop(k)
            if batch.D.shape[0]:
                energies = batch.energies if self.with_energies else None
                self.acc.add_batch(k, batch.D, energies, batch.measured_ealpha,
                                   batch.inv_kinetic)
            else:
                self.empty_chunks.add(k)
            self.done.add(k)
            merged += batch.D.shape[0]
            self.n_unphysical += batch.n_unphysical
            self.examples = (self.examples + batch.reasons)[:5]
            self.max_energy_drift = max(self.max_energy_drift,
                                        float(batch.diagnostics.get("max_energy_drift", 0.0)))
            if "max_order" in batch.diagnostics:
                lo = float(batch.diagnostics["min_order"])
                hi = float(batch.diagnostics["max_order"])
                if self.order is not None:
                    lo, hi = min(lo, self.order[0]), max(hi, self.order[1])
                self.order = (lo, hi)
            if path is not None:
                self.uncommitted.append(path)
        return merged

    def stats(self) -> ShellStats | None:
        """Statistics to commit: the frame must be fixed (or the shell complete, when the frame is
        fixed from all its samples); None otherwise (its chunks stay in the spool)."""
        if self.frozen is not None:
            return self.frozen
        if self.acc is None or self.acc.count == 0:
            return None
        if self.acc.frame_fixed:
            return self.acc.to_stats()
        if self.complete and not self.pending:
            stats = self.acc.to_stats(force_frame=True)
            self.frame_forced = True
            return stats
        return None

    def provenance(self) -> dict:
        return {"alpha": self.alpha, "n_unphysical": self.n_unphysical,
                "unphysical_examples": self.examples, "empty_chunks": sorted(self.empty_chunks),
                "frame_forced": self.frame_forced, "max_energy_drift": self.max_energy_drift,
                "ealpha_max_rel_dev": self.acc.ealpha_max_rel_dev if self.acc else 0.0,
                **({} if self.order is None else {"bragg_order": list(self.order)})}


@dataclass
class Group:
    """One (phase, volume): reference, payload for workers, shells."""

    phase: PhaseSpec
    volume_index: int
    reference: HarmonicReference
    payload: GroupPayload
    descriptors: DescriptorInfo
    shells: list[ShellState]
    provenance: dict
    warnings: list[str]
    notes: list[str]

    @property
    def key(self) -> str:
        return self.payload.key

    def tasks(self, spec: CampaignSpec) -> list[ChunkTask]:
        """Chunks still to run, shell by shell in chunk order."""
        ref = self.reference
        return [ChunkTask(self.key, ref.phase, ref.volume, s.index, s.alpha, k,
                          spec.samples.chunk, spec.seed)
                for s in self.shells for k in s.todo()]

    def phase_volume(self, flavour: str) -> tuple[PhaseVolume, list[ShellState]]:
        """The committable PhaseVolume and the shells it includes (whose spooled chunks the
        commit folds in)."""
        shells, included = [], []
        for s in self.shells:
            stats = s.stats()
            if stats is not None:
                shells.append(stats)
                included.append(s)
        prov = dict(self.provenance, shells=[s.provenance() for s in self.shells if s.acc])
        return PhaseVolume(self.reference, shells, self.descriptors, flavour, prov), included


def _archived(archive: Archive | None, name: str, volume: float) -> PhaseVolume | None:
    for pv in archive.phase_volumes if archive else []:
        v = pv.reference.volume
        if pv.reference.phase == name and abs(v - volume) <= VOLUME_RTOL * max(v, volume):
            return pv
    return None


def _energy_mode(spec: CampaignSpec, ref_pot, dspec) -> str:
    linear = isinstance(ref_pot, LinearPotential) and ref_pot.spec.compatible_with(dspec) is None
    if spec.reference_energy == "never":
        return "none"
    if linear:
        return "linear"
    return "engine" if spec.reference_energy == "always" else "none"


def build_groups(spec: CampaignSpec, archive: Archive | None,
                 progress: Callable[[str], None] | None = None,
                 extended_to: dict[str, float] | None = None) -> list[Group]:
    """Reference lattice, modes, payload and shells of every (phase, volume) of the spec;
    ``extended_to`` maps phase names to the temperature their shell grids are extended to
    (``sample --t-max``, see :func:`~phasetune.campaign.isosurfaces.isosurface_grid`)."""
    ref_pot = reference_potential(spec)
    dspec = descriptor_spec(spec)
    kinetic = spec.flavour == "kinetic"
    energy_mode = "md" if kinetic else _energy_mode(spec, ref_pot, dspec)
    beta0 = ref_pot.beta0() if isinstance(ref_pot, LinearPotential) and \
        len(ref_pot.elements) == 1 else 0.0
    labels = dspec.labels + ([KINETIC_LABEL] if kinetic else [])
    fixed = np.append(dspec.fixed_mask, [True] * kinetic)
    info = DescriptorInfo(dspec.as_dict()["kind"], dict(dspec.as_dict()["params"]), labels, fixed)
    pilot = spec.samples.pilot or min(default_pilot_size(len(labels)),
                                      spec.samples.n_chunks * spec.samples.chunk)
    with tempfile.TemporaryDirectory() as workdir:
        pair = pair_form(ref_pot, workdir)
    groups = []
    for phase in spec.phases:
        for j, kwargs in enumerate(phase.crystal_kwargs()):
            atoms = crystal(phase.structure, phase.element, **kwargs)
            volume = float(atoms.info["volume"])
            where = f"phase {phase.name} at {volume:.6g} Å³/atom"
            if progress:
                progress(where)
            old = _archived(archive, phase.name, volume)
            if old is not None:
                ref = _check_archived(old, atoms, spec, where)
            else:
                ref = build_reference(atoms, ref_pot, spec=dspec, beta0=beta0,
                                      step=spec.hessian_step, phase=phase.name)
                if kinetic:
                    ref = replace(ref, D0=np.append(ref.D0, 0.0))
            if energy_mode == "linear":
                gap = abs(ref.E0 - (beta0 + ref_pot.theta @ ref.D0))
                if gap > IDENTITY_TOL:
                    raise PhasetuneError(
                        f"{where}: E0 differs from β0 + θ·D0 by {gap:.3g} eV/atom",
                        "the descriptor compute does not reproduce the reference potential")
            if spec.descriptors and spec.descriptors.tangent:
                check_tangent_identity(dspec, ref, where)
            relaxed = atoms.copy()
            relaxed.positions = ref.positions
            if old is None and spec.descriptors and spec.descriptors.potential:
                check_identity(relaxed, spec.descriptors.potential, ref.D0[:dspec.n_components],
                               where)
            payload = GroupPayload(
                key=f"{phase.name}/V{volume_tag(volume)}", atoms=relaxed, spec=dspec,
                harmonic=ref, d0=ref.D0[:dspec.n_components], flavour=spec.flavour,
                energy_mode=energy_mode,
                theta=ref_pot.theta if energy_mode == "linear" else None,
                reference_potential=pair,
                min_distance=spec.min_distance,
                kinetic=spec.kinetic.model_dump(),
                liquid=phase.liquid.settings() if phase.liquid else {}).with_fingerprint()
            alphas, warnings, notes = isosurface_grid(
                spec.isosurfaces, ref, t_max=(extended_to or {}).get(phase.name),
                liquid=phase.liquid)
            shells = _shells(spec, old, alphas, len(labels), pilot, energy_mode != "none")
            provenance = {"phase": phase.model_dump(mode="json"), "volume_index": j,
                          "volume_input": kwargs, "chunk": spec.samples.chunk, "pilot": pilot,
                          "seed": spec.seed, "energy_mode": energy_mode}
            if energy_mode == "linear":  # the joint correction's expansion point (estimator)
                provenance["reference_theta"] = [float(v) for v in ref_pot.theta]
            elif spec.descriptors and spec.descriptors.tangent:  # θ_tan of the expansion point
                provenance["reference_theta"] = [float(v) for v in
                                                 dspec.linear_theta(dspec.theta0)]
            groups.append(Group(phase, j, ref, payload, info, shells, provenance,
                                [f"{where}: {w}" for w in warnings],
                                [f"{where}: {n}" for n in notes]))
    return groups


def check_identity(relaxed, name: str, d0: np.ndarray, where: str) -> None:
    """Refuse descriptors that do not reproduce the linear potential they come from:
    |E(X0)/N − (β0 + θ·D0)| ≤ IDENTITY_TOL (method.md §2.1)."""
    from ..engine.calculators import ForceEvaluator
    from ..potentials.registry import load_potential

    pot = load_potential(name)
    with tempfile.TemporaryDirectory() as workdir:
        energy, _ = ForceEvaluator(relaxed, pot, workdir=workdir).energy_forces()
    composition = {e: float(np.mean(np.array(relaxed.get_chemical_symbols()) == e))
                   for e in pot.elements}
    gap = abs(energy / len(relaxed) - (pot.beta0(composition) + pot.theta @ d0))
    if gap > IDENTITY_TOL:
        raise ConfigError(f"descriptors.potential: at {where}, N[β0 + θ·D] differs from the "
                          f"engine energy of {pot.name} by {gap:.3g} eV/atom",
                          "the descriptor compute does not reproduce this potential")


def check_tangent_identity(dspec, ref: HarmonicReference, where: str) -> None:
    """Refuse tangent descriptors whose model does not reproduce the reference potential at the
    lattice: |E0 − (β0_tan + θ_tan·D0)| ≤ IDENTITY_TOL eV/atom (the model at θ0 against LAMMPS)."""
    th0 = dspec.theta0
    d0 = ref.D0[:dspec.n_components]
    gap = abs(ref.E0 - (float(dspec.beta0(th0)) + dspec.linear_theta(th0) @ d0))
    if gap > IDENTITY_TOL:
        raise ConfigError(f"descriptors.tangent: at {where}, the model's energy at θ0 differs "
                          f"from the reference potential's by {gap:.3g} eV/atom",
                          "use the same potential file for reference.potential and "
                          "descriptors.tangent")


def _check_archived(old: PhaseVolume, atoms, spec: CampaignSpec,
                    where: str) -> HarmonicReference:
    ref = old.reference
    if ref.n_atoms != len(atoms) or not np.allclose(ref.cell, np.array(atoms.cell), atol=1e-9):
        raise ConfigError(f"{where}: the archive holds this phase and volume with another cell "
                          f"({ref.n_atoms} atoms)", "keep the phase's structure and cells, or "
                          "use another archive")
    if ref.eigenvectors is None:
        raise ConfigError(f"{where}: the archived reference has no eigenvectors",
                          "append to archives written by `phasetune sample` only")
    if old.flavour != spec.flavour:
        raise ConfigError(f"flavour: the archive was sampled with {old.flavour!r}, "
                          f"not {spec.flavour!r}", "use another archive")
    chunk = old.provenance.get("chunk")
    if chunk is not None and old.shells and int(chunk) != spec.samples.chunk:
        raise ConfigError(f"samples.chunk: the archive was sampled with chunks of {chunk}",
                          f"set samples.chunk: {chunk} to append")
    return ref


def _shells(spec: CampaignSpec, old: PhaseVolume | None, alphas: np.ndarray, n_d: int,
            pilot: int, energies: bool) -> list[ShellState]:
    archived = list(old.shells) if old else []
    notes = {round(p["alpha"], 9): p for p in (old.provenance.get("shells", []) if old else [])}
    shells = []
    for i, alpha in enumerate(alphas):
        match = next((s for s in archived if abs(s.alpha - alpha) <= ALPHA_TOL), None)
        if match is None:
            acc = ShellAccumulator(alpha, n_d, store_raw=spec.store_raw, pilot_size=pilot)
            shells.append(ShellState(float(alpha), i, spec.samples.n_chunks, acc,
                                     with_energies=energies))
            continue
        archived.remove(match)
        state = ShellState(float(match.alpha), i, spec.samples.n_chunks,
                           ShellAccumulator.from_stats(match),
                           with_energies=bool(np.isfinite(match.energy_mean)))
        prov = notes.get(round(match.alpha, 9), {})
        state.done = {int(b) for b in match.batch_ids} | set(prov.get("empty_chunks", []))
        state.empty_chunks = set(prov.get("empty_chunks", []))
        state.n_unphysical = int(prov.get("n_unphysical", 0))
        state.examples = list(prov.get("unphysical_examples", []))
        state.max_energy_drift = float(prov.get("max_energy_drift", 0.0))
        state.frame_forced = bool(prov.get("frame_forced", False))
        state.order = tuple(prov["bragg_order"]) if "bragg_order" in prov else None
        state.acc.ealpha_max_rel_dev = float(prov.get("ealpha_max_rel_dev", 0.0))
        shells.append(state)
    for stats in archived:  # in the archive, not in the spec: kept untouched
        shells.append(ShellState(float(stats.alpha), -1, 0, None, frozen=stats))
    return sorted(shells, key=lambda s: s.alpha)
