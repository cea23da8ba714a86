"""Isosurface samplers of one (phase, volume): the harmonic-shell sampler of method.md §4.2 and
the kinetic (NVE) sampler of §4.5.

Both return a :class:`SampleBatch` of descriptors D (per-atom averages, (n, N_D)).  A sample whose
configuration is unphysical (two atoms closer than ``min_distance`` × the lattice's nearest
neighbour distance, or non-finite descriptors) is not merged but counted in
``SampleBatch.n_unphysical`` and reported by the campaign — never dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..constants import CU, KB
from ..engine.calculators import DescriptorEvaluator, ForceEvaluator
from ..engine.session import Engine
from ..errors import CrystalMeltedError, LiquidCrystallisedError, PhasetuneError
from ..model import HarmonicReference
from ..structures.crystals import nearest_neighbour_distance, pair_distances
from ..structures.order import bragg_order, bragg_reference

EnergyFn = Callable[[np.ndarray, np.ndarray], float]
"""(positions (N, 3) Å, D (N_D,)) → reference energy per atom above E0, eV/atom."""


@dataclass
class SampleBatch:
    """Samples of one chunk.

    Attributes:
        D: (n_ok, N_D) descriptors per atom of the physical samples, in sampling order.
        energies: (n_ok,) reference potential energy per atom above E0, eV/atom, or None.
        measured_ealpha: (n_ok,) |y|²/N of each sample, Å² (Hessian flavour), or None.
        n_unphysical: samples rejected as unphysical (not in D).
        reasons: a description of the first few rejected samples.
        diagnostics: flavour-specific figures (e.g. the NVE energy drift).
        inv_kinetic: (n_ok,) 1/k, k the kinetic energy per atom of each sample, (eV/atom)⁻¹
            (kinetic flavour: the microcanonical β of the shell, method.md §4.5), or None.
    """

    D: np.ndarray
    energies: np.ndarray | None
    measured_ealpha: np.ndarray | None
    n_unphysical: int = 0
    reasons: list[str] = field(default_factory=list)
    diagnostics: dict = field(default_factory=dict)
    inv_kinetic: np.ndarray | None = None


class PhysicalCheck:
    """Rejects configurations with overlapping cores: two atoms closer (minimum image) than
    ``d_min = fraction × d_nn``, d_nn being X0's nearest-neighbour distance.

    The verdict is always that of the all-pairs distance computation, but that computation runs
    only when an overlap is possible.  With r_i = |X_i − X0_i|, a pair's distance cannot fall
    below d0_ij − r_i − r_j (d0_ij: its distance in X0), so a configuration is physical when every
    r_i < (d_nn − d_min)/2, or when every pair of X0 closer than d_min + 2 max r_i keeps
    d0_ij − r_i − r_j above d_min by a margin (``MARGIN`` × d_nn, far above rounding).

    Args:
        positions: X0 (N, 3) Å.
        cell: (3, 3) Å.
        fraction: minimum allowed distance as a fraction of X0's nearest-neighbour distance.
    """

    MARGIN = 1e-9
    """Relative margin of the pair bound; configurations closer to the threshold run the exact
    all-pairs check."""

    def __init__(self, positions: np.ndarray, cell: np.ndarray, fraction: float = 0.5):
        self.x0 = np.asarray(positions, dtype=float)
        self.cell = np.asarray(cell, dtype=float)
        self._inverse = np.linalg.inv(self.cell)
        dist = pair_distances(self.x0, self.cell)
        self.d_nn = float(dist.min())
        self.d_min = fraction * self.d_nn
        self._safe = 0.5 * (self.d_nn - self.d_min)
        self._tol = self.MARGIN * self.d_nn
        # pairs of X0 (minimum image) by increasing distance, up to d_min + 2 d_nn: enough for
        # any configuration whose atoms moved less than d_nn (larger moves: exact check)
        self._reach = self.d_min + 2.0 * self.d_nn
        i, j = np.triu_indices(len(self.x0), k=1)
        d0 = dist[i, j]
        order = np.argsort(d0, kind="stable")
        order = order[d0[order] < self._reach]
        self._pair_i, self._pair_j, self._pair_d0 = i[order], j[order], d0[order]

    def __call__(self, positions: np.ndarray, displacement: np.ndarray | None = None) \
            -> str | None:
        """None if physical, else the reason.

        Args:
            positions: (N, 3) Å, possibly wrapped into the cell.
            displacement: (N, 3) X − X0 if known (else found by minimum image)."""
        if displacement is None:
            frac = (positions - self.x0) @ self._inverse
            displacement = (frac - np.round(frac)) @ self.cell
        return self.screen(positions[None], displacement[None])[0]

    def screen(self, positions: np.ndarray, displacements: np.ndarray) -> list[str | None]:
        """The verdicts of n configurations at once: element k is
        ``self(positions[k], displacements[k])``.

        Args:
            positions: (n, N, 3) Å.
            displacements: (n, N, 3) X − X0, Å."""
        n = len(positions)
        finite = np.isfinite(positions).reshape(n, -1).all(axis=1)
        r2 = np.einsum("kij,kij->ki", displacements, displacements)
        near = ~(r2.max(axis=1, initial=0.0) < self._safe**2)
        out: list[str | None] = [None] * n
        for k in np.flatnonzero(near | ~finite):
            out[k] = self._verdict(positions[k], r2[k]) if finite[k] else "non-finite positions"
        return out

    def _verdict(self, positions: np.ndarray, r2: np.ndarray) -> str | None:
        """Verdict of finite positions (N, 3) Å whose atoms moved by r2 (N,) Å² from X0."""
        if self._bounded(np.sqrt(r2)):
            return None
        d = nearest_neighbour_distance(positions, self.cell)
        if d < self.d_min:
            return f"atoms {d:.3f} Å apart (< {self.d_min:.3f} Å)"
        return None

    def _bounded(self, r: np.ndarray) -> bool:
        """True if displacements of lengths r (N,) Å certainly keep every pair ≥ d_min apart."""
        limit = self.d_min + 2.0 * float(r.max()) + self._tol
        if not limit < self._reach:
            return False  # pairs beyond those kept could come close (or r is not finite)
        m = int(np.searchsorted(self._pair_d0, limit))
        bound = self._pair_d0[:m] - r[self._pair_i[:m]] - r[self._pair_j[:m]]
        return bool(m == 0 or bound.min() > self.d_min + self._tol)


class HessianSampler:
    """Uniform samples on the harmonic-reference shells of one (phase, volume) (method.md §4.2).

    The shells are those of the :class:`~phasetune.model.HarmonicReference`
    (:meth:`~phasetune.model.HarmonicReference.shell_displacements`): exactly |y|²/N = e^α, with no
    centre-of-mass displacement.  Only D(X) is evaluated; LAMMPS wraps X into the cell.

    Args:
        reference: the harmonic reference of this volume (X0 and stable modes, with eigenvectors).
        check: the unphysical-sample test.
        evaluator: descriptor evaluator for this structure (None: displacements only).
        energy: optional diagnostic reference energy (see :data:`EnergyFn`).
    """

    def __init__(self, reference: HarmonicReference, check: PhysicalCheck,
                 evaluator: DescriptorEvaluator | None = None, energy: EnergyFn | None = None):
        reference.check_modes()
        self.reference = reference
        self.check = check
        self.evaluator = evaluator
        self.energy = energy

    def sample(self, alpha: float, n: int, rng: np.random.Generator,
               with_energy: bool = False) -> SampleBatch:
        """Draw n samples on shell α and evaluate their descriptors (and energies if asked).

        Displacements, shell labels, positions X0 + δX and the physical check are computed for
        the whole chunk at once; only the physical samples are evaluated, one by one."""
        if self.evaluator is None:
            raise PhasetuneError("this sampler has no descriptor evaluator")
        displacements = self.reference.shell_displacements(alpha, n, rng)
        measured = self.reference.shell_label(displacements)
        positions = self.reference.positions + displacements
        reasons = self.check.screen(positions, displacements)
        physical = np.array([r is None for r in reasons], dtype=bool)
        D = self.evaluator.batch(positions[physical])
        finite = np.isfinite(D).all(axis=1)
        keep = physical.copy()
        keep[physical] = finite
        if not finite.all():
            D = D[finite]
        rejected = [r or "non-finite descriptors" for r, k in zip(reasons, keep, strict=True)
                    if not k]
        energies = None
        if with_energy and self.energy is not None:
            energies = [self.energy(x, d) for x, d in zip(positions[keep], D, strict=True)]
        return _batch(D, energies, measured[keep], rejected, self.evaluator.spec.n_components)


def checked_descriptors(evaluator: DescriptorEvaluator, check: PhysicalCheck,
                        x: np.ndarray) -> tuple[np.ndarray | None, str | None]:
    """(D(x), None) for a physical configuration, else (None, the reason it was rejected)."""
    reason = check(x)
    if reason is not None:
        return None, reason
    d = evaluator.descriptors(x)
    if not np.all(np.isfinite(d)):
        return None, "non-finite descriptors"
    return d, None


def _batch(rows, energies, labels, reasons, n_components, diagnostics=None) -> SampleBatch:
    D = np.array(rows, dtype=float).reshape(len(rows), n_components)
    return SampleBatch(
        D=D,
        energies=None if energies is None else np.array(energies, dtype=float),
        measured_ealpha=None if labels is None else np.array(labels, dtype=float),
        n_unphysical=len(reasons),
        reasons=reasons[:5],
        diagnostics=diagnostics or {},
    )


def linear_energy(theta: np.ndarray, d0: np.ndarray) -> EnergyFn:
    """Reference energy from D when the reference is the linear potential itself:
    E/N − E0 = θ·(D − D0), free of any extra evaluation."""
    theta, d0 = np.asarray(theta, dtype=float), np.asarray(d0, dtype=float)
    return lambda _x, d: float(theta @ (d - d0))


def engine_energy(evaluator: ForceEvaluator, e0_ref: float) -> EnergyFn:
    """Reference energy from a second engine (costs one reference evaluation per sample)."""
    n = len(evaluator.atoms)
    return lambda x, _d: evaluator.energy_forces(x)[0] / n - e0_ref


# -- kinetic flavour ------------------------------------------------------------------------------
KINETIC_LABEL = "K/N"
"""Label of the kinetic-energy component the kinetic flavour appends to D."""


MELTED_ORDER = 0.2
"""Bragg order below which a crystal's kinetic shell is declared melted (crystals ≈ 0.5–1)."""


class KineticSampler:
    """Constant-energy shells of the reference, K + E_ref − N·E0 = Nε (method.md §4.5).

    Shell α means ε = ω̄ e^α (eV/atom): the total energy of the harmonic crystal whose potential
    shell is α.  Each chunk starts on the harmonic shell α with velocities that make the total
    energy exactly Nε, equilibrates by NVE, then records ``n`` samples, each after a burst of
    ``stride`` NVE steps that starts from a fresh momentum direction at the current kinetic
    energy (an exact microcanonical Gibbs step; zero total momentum).  Each sample is D with the
    kinetic energy per atom k appended, its potential energy per atom above E0, and 1/k (whose
    shell mean gives the microcanonical inverse temperature, method.md §4.5).

    Args:
        md: force evaluator of the reference potential (its engine runs the MD).
        evaluator: descriptor evaluator of the same structure (another engine).
        harmonic: Hessian sampler of this volume (its reference gives the starting configurations
            and E0).
        timestep: ps.  stride, equilibration: NVE steps.
    """

    def __init__(self, md: ForceEvaluator, evaluator: DescriptorEvaluator,
                 harmonic: HessianSampler, *, timestep: float = 0.001,
                 stride: int = 20, equilibration: int = 200):
        self.md, self.evaluator, self.harmonic = md, evaluator, harmonic
        self.engine: Engine = md.engine
        self.e0 = float(harmonic.reference.E0)
        self.stride, self.equilibration = int(stride), int(equilibration)
        self.masses = md.atoms.get_masses()
        self.n_atoms = len(self.masses)
        self.omega_bar = harmonic.reference.omega_bar
        self.wave_vectors, self.perfect_order = bragg_reference(
            harmonic.reference.positions, np.array(md.atoms.cell), 0.5)
        self.engine.commands([f"timestep {timestep!r}", "fix pt_nve all nve",
                              "thermo_style custom step pe", "thermo_modify norm no"])
        self._setup_done = False

    def potential(self) -> float:
        """Reference potential energy per atom above E0 at the current state, eV/atom."""
        return self.engine.energy() / self.n_atoms - self.e0

    def kinetic(self) -> float:
        """Kinetic energy per atom, eV/atom."""
        v = self.engine.velocities()
        return float(0.5 * np.sum(self.masses[:, None] * v * v) / CU / self.n_atoms)

    def refresh(self, k_target: float, rng: np.random.Generator) -> None:
        """New momentum direction, zero total momentum, kinetic energy k_target (eV/atom)."""
        v = rng.standard_normal((self.n_atoms, 3)) / np.sqrt(self.masses)[:, None]
        v -= (self.masses[:, None] * v).sum(axis=0) / self.masses.sum()
        k = 0.5 * np.sum(self.masses[:, None] * v * v) / CU / self.n_atoms
        self.engine.set_velocities(v * np.sqrt(k_target / k))

    def run(self, steps: int) -> None:
        self.engine.command(f"run {steps} {'pre no ' if self._setup_done else ''}post no")
        self._setup_done = True

    def start(self, epsilon: float, rng: np.random.Generator) -> None:
        """Place the system on the energy shell ε (eV/atom) and equilibrate."""
        reference = self.harmonic.reference
        dx = reference.shell_displacements(np.log(epsilon / self.omega_bar), 1, rng)[0]
        for _ in range(30):
            self.engine.evaluate(reference.positions + dx)
            if self.potential() < epsilon:
                break
            dx *= 0.5
        else:
            raise PhasetuneError(f"kinetic sampler: no start on the shell ε = {epsilon:g} eV/atom")
        self._setup_done = False
        self.refresh(epsilon - self.potential(), rng)
        self.run(self.equilibration)

    def sample(self, alpha: float, n: int, rng: np.random.Generator,
               with_energy: bool = True) -> SampleBatch:
        """n samples on the energy shell ε = ω̄ e^α.  ``with_energy`` is ignored: the potential
        energy is always recorded (the estimator needs it with k)."""
        del with_energy
        epsilon = self.omega_bar * np.exp(alpha)
        self.start(epsilon, rng)
        rows, energies, reasons, drift = [], [], [], 0.0
        low, high = 1.0, 0.0
        for _ in range(n):
            u = self.potential()
            drift = max(drift, abs(u + self.kinetic() - epsilon))
            if u >= epsilon:  # drifted above the shell: restart from the harmonic shell
                self.start(epsilon, rng)
                u = self.potential()
            self.refresh(epsilon - u, rng)
            self.run(self.stride)
            u, k = self.potential(), self.kinetic()
            x = self.engine.positions()
            order = bragg_order(x, self.wave_vectors) / self.perfect_order
            low, high = min(low, order), max(high, order)
            d, reason = checked_descriptors(self.evaluator, self.check, x)
            if reason is not None:
                reasons.append(reason)
                continue
            rows.append(np.append(d, k))
            energies.append(u)
        batch = _batch(rows, energies, None, reasons, self.evaluator.spec.n_components + 1,
                       {"max_energy_drift": drift, "epsilon": epsilon, "min_order": low,
                        "max_order": high})
        self.check_phase(alpha, low, high)
        # 1/k of the recorded k (the D column itself), for the microcanonical β(ε) (§4.5)
        batch.inv_kinetic = 1.0 / batch.D[:, -1]
        return batch

    def check_phase(self, alpha: float, low: float, high: float) -> None:
        """A crystal's shell must stay crystalline: the Bragg order (mean S(k)/N over the
        lattice's shortest Bragg vectors, :func:`~phasetune.structures.order.bragg_order`) of
        every sample above MELTED_ORDER, else :class:`CrystalMeltedError` names the shell."""
        del high
        if low < MELTED_ORDER:
            epsilon = self.omega_bar * np.exp(alpha)
            raise CrystalMeltedError(
                f"kinetic shell α = {alpha:.4f} (ε = {epsilon:.4f} eV/atom): the Bragg order "
                f"S(k)/N fell to {low:.2f} (< {MELTED_ORDER}) — the crystal melted or "
                "transformed on this shell", "lower the shells' top temperature "
                "(isosurfaces.temperatures or cover); a superheated crystal melts in NVE")

    @property
    def check(self) -> PhysicalCheck:
        return self.harmonic.check


class LiquidSampler(KineticSampler):
    """Constant-energy shells of the melted reference: a liquid phase (method.md §4.6).

    Identical to :class:`KineticSampler` (shells K + E_ref − N·E0 = Nε, ε = ω̄e^α, fresh momentum
    directions between samples, D with K/N appended, 1/k recorded) except for the start: each
    chunk melts the lattice by Langevin MD at ``melt_temperature`` (K) for ``melt_steps`` steps,
    then brings the liquid onto the shell (cooling by Langevin while its potential energy is above
    0.9 Nε, then exact rescaling of the kinetic energy to Nε − U) and equilibrates by NVE.  Every
    sample's Bragg order, the mean S(k)/N over the lattice's shortest Bragg vectors
    (:func:`~phasetune.structures.order.bragg_order`), must stay below ``max_order`` (a crystal
    ≈ 0.5–1, a liquid of N atoms a few /N), else :class:`LiquidCrystallisedError` names the
    shell, with the atoms' mean-squared displacement over the chunk (summed from minimum-image
    steps; small even for a liquid, because fresh momentum directions every ``stride`` steps
    slow diffusion).

    The lattice (E0, D0, cell, N) is only the energy origin and the starting point.
    """

    def __init__(self, md: ForceEvaluator, evaluator: DescriptorEvaluator,
                 harmonic: HessianSampler, *, melt_temperature: float, melt_steps: int = 2000,
                 max_order: float = 0.3, **kinetic):
        super().__init__(md, evaluator, harmonic, **kinetic)
        self.melt_temperature, self.melt_steps = float(melt_temperature), int(melt_steps)
        self.max_order = float(max_order)
        self.cell = np.array(md.atoms.cell)
        self._inverse_cell = np.linalg.inv(self.cell)
        self._travel: np.ndarray | None = None
        """Unwrapped displacement (N, 3) Å since the end of the last start, or None."""

    def _langevin(self, temperature: float, steps: int, rng: np.random.Generator) -> None:
        t = f"{temperature!r}"
        self.engine.command(f"fix pt_lgv all langevin {t} {t} 0.1 "
                            f"{int(rng.integers(1, 900_000_000))} zero yes")
        self._setup_done = False  # fixes changed: LAMMPS must set up the next run
        self.run(steps)
        self.engine.command("unfix pt_lgv")
        self._setup_done = False

    def start(self, epsilon: float, rng: np.random.Generator) -> None:
        """Melt the lattice, cool until U < 0.9 Nε, then place the liquid exactly on ε."""
        self._travel = None
        self.engine.evaluate(self.harmonic.reference.positions)
        self._setup_done = False
        self.refresh(1.5 * KB * self.melt_temperature, rng)
        self._langevin(self.melt_temperature, self.melt_steps, rng)
        t_cool = max(0.5 * self.melt_temperature, 100.0)
        for _ in range(40):
            if self.potential() < 0.9 * epsilon:
                break
            self._langevin(t_cool, max(5 * self.stride, 50), rng)
            t_cool *= 0.8
        else:
            raise PhasetuneError(f"liquid sampler: the liquid stays above the shell "
                                 f"ε = {epsilon:g} eV/atom (potential energy "
                                 f"{self.potential():g} eV/atom)",
                                 "raise the liquid's energy_offset or its shell temperatures")
        self.refresh(epsilon - self.potential(), rng)
        self.run(self.equilibration)
        self._travel = np.zeros((self.n_atoms, 3))

    def run(self, steps: int) -> None:
        before = None if self._travel is None else self.engine.positions()
        super().run(steps)
        if before is not None:
            frac = (self.engine.positions() - before) @ self._inverse_cell
            self._travel += (frac - np.round(frac)) @ self.cell

    def check_phase(self, alpha: float, low: float, high: float) -> None:
        """The liquid must stay liquid: Bragg order of every sample below ``max_order``, else
        :class:`LiquidCrystallisedError` names the shell."""
        del low
        if high > self.max_order:
            epsilon = self.omega_bar * np.exp(alpha)
            msd = 0.0 if self._travel is None else float(np.mean(np.sum(self._travel**2, 1)))
            raise LiquidCrystallisedError(
                f"liquid shell α = {alpha:.4f} (ε = {epsilon:.4f} eV/atom): the structure factor "
                f"at the lattice's first Bragg peak reached S(k)/N = {high:.2f} "
                f"(> max_order {self.max_order:g}; mean squared displacement {msd:.3g} Å²) — "
                "the liquid crystallised",
                "raise the liquid's shell temperatures (liquid.temperatures, energy_offset)")
