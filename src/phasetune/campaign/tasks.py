"""Units of parallel work: one chunk of samples of one (phase, volume, shell).

* :class:`GroupPayload` — everything a worker needs for one (phase, volume): the harmonic
  reference (relaxed lattice and stable modes, computed once in the parent, never per worker), the
  descriptor spec and the sampler settings.  It travels with each task; workers cache their
  samplers by ``key``.
* :class:`ChunkTask` — (phase, volume, shell, chunk) with the seed entropy of the chunk:
  ``SeedSequence([campaign seed, id(phase), id(volume), id(α), chunk])`` where the ids are stable
  hashes of the phase name, the volume and α, so a chunk draws the same samples in any process,
  in any order and after any restart.
* :func:`run_chunk` — the picklable worker function (one LAMMPS engine per process, reused).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field, replace

import numpy as np
from ase import Atoms

from ..engine.calculators import ForceEvaluator, descriptor_evaluator
from ..engine.session import Engine
from ..model import HarmonicReference
from ..potentials.linear import DescriptorSpec, PairPotential
from .samplers import (
    HessianSampler,
    KineticSampler,
    LiquidSampler,
    PhysicalCheck,
    SampleBatch,
    engine_energy,
    linear_energy,
)


def stable_id(text: str) -> int:
    """A 63-bit integer identifying ``text`` (SHA-256), identical on every machine."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def volume_tag(volume: float) -> str:
    """The volume per atom as written in identifiers (Å³/atom, 6 decimals)."""
    return f"{volume:.6f}"


def alpha_tag(alpha: float) -> str:
    """α as written in identifiers (10 decimals; α values closer than ALPHA_TOL are one shell)."""
    return f"{alpha:+.10f}"


@dataclass(frozen=True)
class GroupPayload:
    """One (phase, volume) as a worker needs it.

    Attributes:
        key: ``"<phase>/V<volume>"``.
        atoms: the relaxed structure (positions X0, Å).
        spec: descriptor spec (N_D components; the kinetic flavour appends K/N).
        harmonic: the harmonic reference of this (phase, volume) (X0, stable modes, E0).
        d0: (N_D,) D(X0) of the spec.
        flavour: ``"hessian"`` or ``"kinetic"``.
        energy_mode: ``"none"``, ``"linear"`` (θ·(D − D0), free) or ``"engine"`` (a reference
            evaluation per sample).
        theta: (N_D,) θ of the reference when energy_mode is ``"linear"``.
        reference_potential: the reference potential (engine energies, kinetic MD).
        min_distance: unphysical threshold as a fraction of the nearest-neighbour distance.
        kinetic: NVE settings (timestep ps, stride and equilibration steps).
        liquid: a liquid phase's melting settings (:class:`~phasetune.campaign.samplers.
            LiquidSampler`), empty for crystals.
    """

    key: str
    atoms: Atoms
    spec: DescriptorSpec
    harmonic: HarmonicReference
    d0: np.ndarray
    flavour: str = "hessian"
    energy_mode: str = "none"
    theta: np.ndarray | None = None
    reference_potential: PairPotential | None = None
    min_distance: float = 0.5
    kinetic: dict = field(default_factory=dict)
    liquid: dict = field(default_factory=dict)
    fingerprint: str = ""

    def with_fingerprint(self) -> GroupPayload:
        """A copy whose ``fingerprint`` hashes everything the worker's sampler depends on (the
        worker cache key: two campaigns in one process never share a stale sampler)."""
        harmonic = self.harmonic
        digest = hashlib.sha256(repr((self.key, self.flavour, self.spec.sha256, harmonic.E0,
                                      self.energy_mode, self.min_distance,
                                      sorted(self.kinetic.items()),
                                      sorted(self.liquid.items()))).encode())
        for arr in (self.atoms.positions, np.array(self.atoms.cell), harmonic.omega,
                    harmonic.vectors, self.d0,
                    self.theta if self.theta is not None else np.zeros(0)):
            digest.update(np.ascontiguousarray(arr, dtype=float).tobytes())
        if self.reference_potential is not None:
            digest.update(self.reference_potential.sha256.encode())
        return replace(self, fingerprint=digest.hexdigest())


@dataclass(frozen=True)
class ChunkTask:
    """Chunk ``chunk`` of shell ``shell`` (index in its group, label ``alpha``) of a group."""

    group: str
    phase: str
    volume: float
    shell: int
    alpha: float
    chunk: int
    n_samples: int
    campaign_seed: int

    @property
    def entropy(self) -> tuple[int, ...]:
        """Seed entropy of this chunk (reported with failures)."""
        return (self.campaign_seed, stable_id(self.phase), stable_id(volume_tag(self.volume)),
                stable_id(alpha_tag(self.alpha)), self.chunk)

    def rng(self) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence(list(self.entropy)))

    @property
    def label(self) -> str:
        return (f"phase {self.phase}, V={self.volume:g} Å³/atom, isosurface {self.shell} "
                f"(α={self.alpha:.4f}), chunk {self.chunk}")


@dataclass
class ChunkResult:
    """What a worker returns: the samples, or the error of a failed chunk."""

    task: ChunkTask
    batch: SampleBatch | None
    error: str | None = None
    elapsed: float = 0.0
    worker: str = ""
    cpu: float = 0.0
    """CPU seconds the worker spent on the chunk (robust to other load on the machine)."""


# -- worker side ----------------------------------------------------------------------------------
_STATE: dict = {"key": None, "sampler": None, "engines": {}}


def _engine(role: str) -> Engine:
    engines = _STATE["engines"]
    if role not in engines:
        engines[role] = Engine(label=f"campaign worker {os.getpid()} ({role})")
    return engines[role]


def reset_worker() -> None:
    """Forget the cached sampler and close this process's engines (after a failure)."""
    for engine in _STATE["engines"].values():
        try:
            engine.close()
        except Exception:  # pragma: no cover - best effort
            pass
    _STATE.update(key=None, sampler=None, engines={})


def build_sampler(payload: GroupPayload) -> HessianSampler | KineticSampler | LiquidSampler:
    """The sampler of one group on this process's engines."""
    evaluator = descriptor_evaluator(payload.atoms, payload.spec, engine=_engine("descriptors"))
    check = PhysicalCheck(payload.atoms.positions, np.array(payload.atoms.cell),
                          payload.min_distance)
    energy = None
    if payload.energy_mode == "linear":
        energy = linear_energy(payload.theta, payload.d0)
    elif payload.energy_mode == "engine" and payload.flavour == "hessian":
        forces = ForceEvaluator(payload.atoms, payload.reference_potential,
                                engine=_engine("reference"))
        energy = engine_energy(forces, payload.harmonic.E0)
    harmonic = HessianSampler(payload.harmonic, check, evaluator, energy)
    if payload.flavour == "hessian":
        return harmonic
    md = ForceEvaluator(payload.atoms, payload.reference_potential, engine=_engine("reference"))
    if payload.liquid:
        return LiquidSampler(md, evaluator, harmonic, **payload.kinetic, **payload.liquid)
    return KineticSampler(md, evaluator, harmonic, **payload.kinetic)


def run_chunk(task: ChunkTask, payload: GroupPayload) -> ChunkResult:
    """Sample one chunk (worker entry point; never raises: errors come back in the result)."""
    start, cpu = time.perf_counter(), time.process_time()
    worker = f"{os.uname().nodename}:{os.getpid()}"
    try:
        if not payload.fingerprint or _STATE["key"] != payload.fingerprint:
            _STATE.update(key=None, sampler=None)
            _STATE["sampler"] = build_sampler(payload)
            _STATE["key"] = payload.fingerprint
        batch = _STATE["sampler"].sample(task.alpha, task.n_samples, task.rng(),
                                         with_energy=payload.energy_mode != "none")
    except Exception as exc:  # reported by the runner with the task's identity
        reset_worker()
        lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
        message = f"{type(exc).__name__}: {lines[0] if lines else repr(exc)}"
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" [at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}]" if tb else ""
        return ChunkResult(task, None, message + where, time.perf_counter() - start, worker,
                           time.process_time() - cpu)
    return ChunkResult(task, batch, None, time.perf_counter() - start, worker,
                       time.process_time() - cpu)


def warm_up() -> int:
    """Load LAMMPS in a fresh worker (submitted once per worker while references are built)."""
    _engine("descriptors")
    return os.getpid()


def init_worker(parent_pid: int | None = None) -> None:
    """Initializer of pool workers: one thread, ignore Ctrl-C (the parent handles it), and exit
    when the parent dies (e.g. ``kill -9``) instead of idling forever."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    with contextlib.suppress(ValueError):  # not the main thread (some executors)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if parent_pid is not None:
        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(1)
