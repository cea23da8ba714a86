"""The harmonic reference of one (phase, volume): the one object every step shares (method.md §2.3,
§4.1, §9).

A :class:`HarmonicReference` holds the relaxed lattice X0, its static energy and descriptors, and
the stable normal modes of the reference Hessian H′ = Σ_l ω_l v_l v_lᵀ (the three translations
removed).  From it follow, without any other state:

* the harmonic model U_H(X) = N·E0 + ½ Σ_l ω_l (v_l·δX)², with its exact free energy and exact
  canonical draws (the reference of thermodynamic integration, §9);
* the isosurfaces (shells) α of the D-DOS campaign, e^α = |y|²/N with y_l = (ω_l/ω̄)^{1/2} a_l,
  their uniform samples and measured labels (§4.2);
* the shell temperature T_α = ω̄e^α/(r k_B) and the harmonic saddle α_H(T) = ln(r k_B T/ω̄) under a
  mode-count convention (§2.3, §3).

Shapes: N atoms, n stable modes (3N − 3 for a periodic crystal), N_D descriptor components.
Units: Å, eV, amu, K.  Energies per atom unless stated.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np

from ..constants import CU, KB
from ..conventions import Conventions
from ..errors import PhasetuneError
from . import harmonic as formulas

COM_TOL = 1e-8
"""Largest centre-of-mass component an eigenvector may have (stable modes only)."""


def minimum_image(delta: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Displacements (N, 3) Å reduced to the nearest periodic image of a cell (rows a, b, c)."""
    frac = np.linalg.solve(cell.T, np.asarray(delta, dtype=float).T).T
    return (frac - np.round(frac)) @ cell


@dataclass(frozen=True, eq=False)
class HarmonicReference:
    """Relaxed lattice and stable harmonic modes of one (phase, volume).

    Attributes:
        phase: phase name, e.g. ``"bcc"``.
        n_atoms: N.
        mass: atomic mass, amu.
        volume: volume per atom, Å³.
        cell: (3, 3) cell vectors as rows, Å.
        positions: (N, 3) relaxed lattice X0, Å.
        n_trans: number of primitive cells (translations of the COM term).
        D0: (N_D,) descriptors of X0 (empty when no descriptors were evaluated).
        E0: static energy per atom at X0, eV/atom (the reference potential's, or the target's
            for a thermodynamic-integration model, see :meth:`with_static_energy`).
        omega: (n,) stable Hessian eigenvalues ω_l > 0, eV/Å² (zero modes removed).
        beta0: constant term β0 of the evaluated linear potential, eV/atom (0 if unknown).
        n_zero: number of dropped translational modes (3 for a periodic crystal).
        hessian_step: finite-difference step h, Å.
        hessian_residual: max |H − Hᵀ| before symmetrisation, eV/Å².
        eigenvectors: (3N, n) orthonormal stable eigenvectors (columns), or None when only the
            spectrum is known (imported data); sampling and the harmonic model need them.
        label: display name (default ``"harmonic reference of <phase>"``).
    """

    phase: str
    n_atoms: int
    mass: float
    volume: float
    cell: np.ndarray
    positions: np.ndarray
    n_trans: int
    D0: np.ndarray
    E0: float
    omega: np.ndarray
    beta0: float = 0.0
    n_zero: int = 3
    hessian_step: float = 1e-3
    hessian_residual: float = 0.0
    eigenvectors: np.ndarray | None = None
    label: str = ""

    def __post_init__(self) -> None:
        omega = np.asarray(self.omega)
        if omega.size and not np.all(omega > 0):
            raise PhasetuneError(f"{self.name}: every ω_l must be positive (stable modes only)")
        if self.eigenvectors is None:
            return
        n3, n = int(np.size(self.positions)), omega.size
        if np.shape(self.eigenvectors) != (n3, n):
            raise PhasetuneError(f"{self.name}: eigenvectors have shape "
                                 f"{np.shape(self.eigenvectors)}, expected ({n3}, {n})")

    # -- the spectrum -------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.label or f"harmonic reference of {self.phase}"

    @property
    def n_modes(self) -> int:
        """n, the number of stable modes."""
        return len(self.omega)

    @property
    def omega_bar(self) -> float:
        """ω̄ = mean ω_l, eV/Å²."""
        return float(np.mean(self.omega))

    @property
    def mean_log_nu(self) -> float:
        """⟨ln ν⟩ = mean ln(ω_l/ω̄) ≤ 0."""
        return float(np.mean(np.log(self.omega / self.omega_bar)))

    @property
    def nu(self) -> np.ndarray:
        """(n,) ν_l = ω_l/ω̄."""
        return self.omega / self.omega.mean()

    @property
    def vectors(self) -> np.ndarray:
        """(3N, n) stable eigenvectors, C-contiguous; raises when the reference has none."""
        if self.eigenvectors is None:
            raise PhasetuneError(f"{self.name} has no eigenvectors",
                                 "rebuild it with build_reference (eigenvectors are needed)")
        return np.ascontiguousarray(self.eigenvectors, dtype=float)

    def check_modes(self) -> None:
        """Require eigenvectors that are stable modes: present and orthogonal to the uniform
        translations (no centre-of-mass motion), as sampling and the harmonic model need."""
        vectors = self.vectors
        com = vectors.reshape(-1, 3, self.n_modes).sum(axis=0)
        if self.n_modes and np.abs(com).max() > COM_TOL:
            raise PhasetuneError(f"{self.name}: eigenvectors must not move the centre of mass",
                                 "pass the stable modes only (translations removed)")

    @property
    def volume_box(self) -> float:
        """Cell volume V_box, Å³."""
        return float(abs(np.linalg.det(self.cell)))

    def modes_per_atom(self, conventions: Conventions | None = None) -> float:
        """r: n/N of this COM-fixed model (``conventions`` None), or the convention's count."""
        if conventions is None:
            return self.n_modes / self.n_atoms
        return conventions.modes_per_atom(self.n_atoms)

    # -- shells and temperatures ----------------------------------------------------------------
    def shell_temperature(self, alpha: np.ndarray | float,
                          conventions: Conventions) -> np.ndarray:
        """T_α = ω̄e^α/(r k_B), K, of shells α under ``conventions``."""
        return formulas.shell_temperature(alpha, self.omega_bar,
                                          self.modes_per_atom(conventions))

    def harmonic_alpha(self, temperature: np.ndarray | float,
                       conventions: Conventions) -> np.ndarray:
        """α_H(T) = ln(r k_B T/ω̄): the shell a harmonic crystal occupies at T."""
        return formulas.harmonic_alpha(temperature, self.omega_bar,
                                       self.modes_per_atom(conventions))

    def shell_log_density(self, alpha: np.ndarray | float, temperature: np.ndarray | float,
                          conventions: Conventions) -> np.ndarray:
        """S_α(α, T), the reference log-density per atom of shell α with momenta (§2.3)."""
        return formulas.shell_log_density(alpha, temperature, self.mass, self.omega_bar,
                                          self.mean_log_nu, self.modes_per_atom(conventions))

    def shell_amplitudes(self, alpha: float, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, n_modes) amplitudes a_l (Å) of n uniform samples on shell α (method.md §4.2):
        a_l = (N e^α)^{1/2} ŷ_l / ν_l^{1/2}, ŷ uniform on the unit sphere."""
        u = rng.standard_normal((n, self.n_modes))
        y_hat = u / np.sqrt(np.einsum("ij,ij->i", u, u))[:, None]
        return np.sqrt(self.n_atoms * np.exp(alpha)) * y_hat / np.sqrt(self.nu)

    def shell_displacements(self, alpha: float, n: int, rng: np.random.Generator) -> np.ndarray:
        """(n, N, 3) displacements δX = Σ a_l v_l (Å) uniform on shell α.

        Computed with ``einsum`` (no BLAS), so a chunk gives bit-identical results in any process
        whatever its thread settings."""
        a = self.shell_amplitudes(alpha, n, rng)
        return np.einsum("kl,il->ki", a, self.vectors).reshape(n, self.n_atoms, 3)

    def shell_label(self, displacements: np.ndarray) -> np.ndarray:
        """Measured e^α = (1/N) Σ ν_l a_l², Å², of displacements (n, N, 3) → (n,), with
        a = Vᵀ δX projected back from the positions."""
        dx = displacements.reshape(len(displacements), -1)
        a = np.einsum("ki,il->kl", dx, self.vectors)
        return np.einsum("kl,l->k", a * a, self.nu) / self.n_atoms

    # -- the harmonic model U_H -----------------------------------------------------------------
    def displacement(self, positions: np.ndarray) -> np.ndarray:
        """δX (N, 3) Å from X0 to ``positions`` (N, 3), nearest image per atom."""
        return minimum_image(np.asarray(positions) - self.positions, self.cell)

    def energy_forces(self, positions: np.ndarray) -> tuple[float, np.ndarray]:
        """(U_H in eV, total; forces (N, 3) eV/Å) at ``positions`` (N, 3) Å."""
        vectors = self.vectors
        q = vectors.T @ self.displacement(positions).ravel()
        energy = self.n_atoms * self.E0 + 0.5 * float(np.sum(self.omega * q * q))
        return energy, -(vectors @ (self.omega * q)).reshape(-1, 3)

    def free_energy(self, temperature: np.ndarray | float, r: float | None = None) -> np.ndarray:
        """Exact classical F per atom of U_H, eV/atom: E0 + (k_BT/N)Σ_l ln(ħΩ_l/k_BT) at
        r = n/N; another ``r`` rescales the mode average (method.md §3), e.g. r = 3."""
        r = self.modes_per_atom() if r is None else r
        return self.E0 + formulas.harmonic_free_energy(self.omega, self.mass, temperature, r)

    def sample_displacements(self, rng: np.random.Generator, temperature: float) -> np.ndarray:
        """An exact canonical draw δX (N, 3) Å of U_H: a_l ~ N(0, k_BT/ω_l), no COM motion."""
        a = rng.standard_normal(self.n_modes) * np.sqrt(KB * temperature / self.omega)
        return (self.vectors @ a).reshape(-1, 3)

    def sample_velocities(self, rng: np.random.Generator, temperature: float) -> np.ndarray:
        """Maxwell–Boltzmann velocities (N, 3) Å/ps with zero total momentum (equal masses)."""
        v = rng.standard_normal((self.n_atoms, 3)) * np.sqrt(KB * temperature * CU / self.mass)
        return v - v.mean(axis=0)

    def einstein_constant(self) -> float:
        """Spring constant κ (eV/Å²) of an Einstein crystal with the same mean-square
        displacement: κ = n / Σ_l ω_l⁻¹ (the harmonic mean of ω)."""
        return float(self.n_modes / np.sum(1.0 / self.omega))

    # -- derived references ---------------------------------------------------------------------
    @property
    def sha256(self) -> str:
        """Hash of X0, the cell, H′ (independent of the basis of degenerate modes), E0, the mass
        and N_trans: what a thermodynamic integration depends on."""
        digest = hashlib.sha256()
        vectors = self.vectors
        stable_hessian = (vectors * self.omega) @ vectors.T
        for arr in (np.asarray(self.positions, dtype=float), np.asarray(self.cell, dtype=float),
                    stable_hessian):
            digest.update(np.ascontiguousarray(np.round(arr, 8)).tobytes())
        digest.update(repr((round(float(self.E0), 10), float(self.mass),
                            int(self.n_trans))).encode())
        return digest.hexdigest()

    def with_static_energy(self, e0: float) -> HarmonicReference:
        """The same modes around the same X0 with static energy ``e0`` (eV/atom), e.g. a target
        potential's U_θ(X0)/N for thermodynamic integration."""
        return replace(self, E0=float(e0))

    def with_omega(self, omega: np.ndarray, name: str | None = None) -> HarmonicReference:
        """The same modes with other eigenvalues (n,) eV/Å² (an exactly solvable target)."""
        return replace(self, omega=np.asarray(omega, dtype=float), label=name or self.label)

    def rotated(self, rotation: np.ndarray) -> HarmonicReference:
        """The same reference in a rotated Cartesian frame (x′ = x @ rotation), e.g. LAMMPS's."""
        n, k = self.n_atoms, self.n_modes
        vectors = np.einsum("iak,ab->ibk", self.vectors.reshape(n, 3, k), rotation)
        return replace(self, positions=self.positions @ rotation, cell=self.cell @ rotation,
                       eigenvectors=vectors.reshape(3 * n, k))
