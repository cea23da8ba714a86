"""Analytic test systems with exact answers, like ``pymbar.testsystems`` (method.md §10).

Each factory samples descriptors on a grid of harmonic shells, compresses them with
:class:`~phasetune.archive.stats.ShellAccumulator` exactly as a campaign would, and returns a
:class:`TestSystem` holding the :class:`~phasetune.model.PhaseVolume` and the exact answer.

* :func:`gaussian_system` — D|α ~ N(μ(α), K(α)/N) with μ(α) − D0 = m₁e^α and K(α) = K₁e^{2α}; the
  exact D-DOS answer is the second-order cumulant saddle (§10.3), solved in closed form.
* :func:`grouped_harmonic_system` — the grouped-mode harmonic crystal (§10.2): D_k =
  (1/N)Σ_{l∈G_k} ω_l a_l²/2 = (ω̄e^α/2) q_k, q ~ Dirichlet(|G_k|/2); exactly
  F_vib = (k_BT/N)Σ_l ln(ħΩ_l θ_{k(l)}^{1/2}/k_BT) with r = n/N (modes "3N-3").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .archive.stats import ShellAccumulator
from .constants import KB
from .conventions import Conventions
from .model import DescriptorInfo, HarmonicReference, PhaseVolume
from .model.harmonic import harmonic_alpha, harmonic_free_energy, shell_log_density


@dataclass
class ExactResult:
    """Exact answer, arrays (n_T, n_models) and D_star (n_T, n_models, N_D); eV/atom."""

    F_vib: np.ndarray
    F_total: np.ndarray
    D_star: np.ndarray
    alpha_star: np.ndarray | None = None


@dataclass
class TestSystem:
    """A sampled PhaseVolume, its conventions, a natural θ and the exact answer ``exact(θ, T)``."""

    phase_volume: PhaseVolume
    conventions: Conventions
    theta_ref: np.ndarray
    exact: Callable[[np.ndarray, np.ndarray], ExactResult]
    description: str


def synthetic_reference(n_atoms: int, omega: np.ndarray, mass: float, n_components: int,
                        volume: float = 12.0) -> HarmonicReference:
    """A HarmonicReference with a given stable spectrum and placeholder geometry (cubic box of
    volume N·V, all atoms at the origin: the test systems never use positions)."""
    side = (n_atoms * volume) ** (1.0 / 3.0)
    return HarmonicReference(phase="synthetic", n_atoms=n_atoms, mass=mass, volume=volume,
                     cell=np.eye(3) * side, positions=np.zeros((n_atoms, 3)), n_trans=n_atoms,
                     D0=np.zeros(n_components), E0=0.0, omega=np.asarray(omega, float),
                     n_zero=3 * n_atoms - len(omega))


def shell_grid(t_lo: float, t_hi: float, omega_bar: float, r: float, n_shells: int,
               factor: float = 1.5) -> np.ndarray:
    """n_shells uniform α from α_H(T_lo/f) to α_H(f·T_hi) (method.md §4.3)."""
    return np.linspace(harmonic_alpha(t_lo / factor, omega_bar, r),
                       harmonic_alpha(factor * t_hi, omega_bar, r), n_shells)


def _accumulate(alphas, sampler, n_components, n_samples, n_batches, rng, store_raw):
    shells = []
    sizes = np.full(n_batches, n_samples // n_batches)
    sizes[: n_samples % n_batches] += 1
    for a in alphas:
        acc = ShellAccumulator(float(a), n_components, store_raw=store_raw)
        for b, size in enumerate(sizes):
            acc.add_batch(b, sampler(float(a), int(size), rng))
        shells.append(acc.to_stats(force_frame=True))
    return shells


def _spectrum(n_modes: int, rng: np.random.Generator, lo: float = 3.0, hi: float = 20.0):
    return np.sort(rng.uniform(lo, hi, n_modes))


def _as_2d(theta):
    th = np.asarray(theta, dtype=float)
    return th[None, :] if th.ndim == 1 else th


def gaussian_system(n_components: int = 4, n_atoms: int = 128, temperatures=(300.0, 1500.0),
                    n_shells: int = 12, n_samples: int = 2000, n_batches: int = 8,
                    seed: int = 0, spectrum_seed: int = 12345,
                    fluctuation: float = 0.01, store_raw: bool = False) -> TestSystem:
    """Gaussian descriptor densities with the exact cumulant answer (method.md §10.3).

    μ(α) − D0 = m₁e^α with θ_ref·m₁ = ω̄/2 (θ_ref = 1 behaves like the harmonic reference) and
    K(α) = K₁e^{2α}, scaled so that at the harmonic saddle of θ_ref the variance term
    (β²/2)θᵀKθ is ``fluctuation`` × the energy term.  The total tilt of θ_ref on a shell is then
    |κ| ≈ (N·2·fluctuation·r)^{1/2}/… ≈ 2σ for the defaults (N = 128), inside the sampled support;
    a minimum in α exists only for fluctuation < 1/8.  ``seed`` drives the sampling only; the
    system itself (spectrum, m₁, K₁) is fixed by ``spectrum_seed``; ``store_raw`` keeps the raw
    descriptors in the shells.
    """
    sys_rng = np.random.default_rng(spectrum_seed)
    conv = Conventions()
    r = conv.modes_per_atom(n_atoms)
    omega = _spectrum(3 * n_atoms - 3, sys_rng)
    ref = synthetic_reference(n_atoms, omega, 50.0, n_components)
    wbar = ref.omega_bar
    theta_ref = np.ones(n_components)
    m1 = sys_rng.uniform(0.5, 1.5, n_components)
    m1 *= 0.5 * wbar / (theta_ref @ m1)
    a_mat = sys_rng.normal(size=(n_components, n_components))
    k1 = a_mat @ a_mat.T + 0.5 * np.eye(n_components)
    # at βe^α = r/(2θ·m₁): (β²/2)θᵀK₁θ e^{2α} = fluctuation · βθ·m₁e^α  ⇒ scale K₁
    y_h = r / (2.0 * (theta_ref @ m1))
    k1 *= fluctuation * (theta_ref @ m1) * 2.0 / (y_h * (theta_ref @ k1 @ theta_ref))
    alphas = shell_grid(*temperatures, wbar, r, n_shells)
    chol = np.linalg.cholesky(k1 / n_atoms)

    def sampler(alpha, size, rng):
        xi = rng.standard_normal((size, n_components))
        return m1 * np.exp(alpha) + np.exp(alpha) * xi @ chol.T

    shells = _accumulate(alphas, sampler, n_components, n_samples, n_batches,
                         np.random.default_rng(seed), store_raw)
    info = DescriptorInfo("synthetic", {"system": "gaussian"},
                          [f"G{k}" for k in range(n_components)], np.zeros(n_components, bool))
    pv = PhaseVolume(ref, shells, info, provenance={"testsystem": "gaussian", "seed": seed})

    def exact(theta, temps) -> ExactResult:
        th = _as_2d(theta)
        t = np.atleast_1d(np.asarray(temps, dtype=float))[:, None]
        beta = 1.0 / (KB * t)
        a = th @ m1
        b = np.einsum("mk,kl,ml->m", th, k1, th)
        # f′(α) = 0 with y = βe^α:  b y² − a y + r/2 = 0, smaller root is the minimum
        disc = np.sqrt(a * a - 2.0 * r * b)
        y = np.where(b > 0, (a - disc) / np.where(b > 0, 2.0 * b, 1.0), 0.5 * r / a)
        y = np.broadcast_to(y, (t.size, th.shape[0]))
        alpha = np.log(y / beta)
        s_alpha = shell_log_density(alpha, t, ref.mass, wbar, ref.mean_log_nu, r)
        f_vib = KB * t * (-s_alpha + a * y - 0.5 * b * y * y)
        ea = np.exp(alpha)[..., None]
        d_star = m1 * ea - beta[..., None] * ea**2 * (th @ k1)[None]
        return ExactResult(f_vib, f_vib, d_star, alpha)

    return TestSystem(pv, conv, theta_ref, exact,
                      f"Gaussian D-DOS, N_D={n_components}, N={n_atoms}, {n_shells} shells")


def grouped_harmonic_system(n_atoms: int = 128, n_groups: int = 3, temperatures=(300.0, 1500.0),
                            n_shells: int = 12, n_samples: int = 2000, n_batches: int = 8,
                            seed: int = 0, spectrum_seed: int = 12345,
                            mass: float = 50.0, store_raw: bool = False) -> TestSystem:
    """Grouped-mode harmonic crystal (method.md §10.2), modes "3N-3" (r = n/N).

    The n = 3N − 3 stable modes are split into ``n_groups`` contiguous groups of the sorted
    spectrum; θ = (1, …, 1) is the plain harmonic crystal.
    """
    sys_rng = np.random.default_rng(spectrum_seed)
    conv = Conventions(modes="3N-3")
    r = conv.modes_per_atom(n_atoms)
    omega = _spectrum(3 * n_atoms - 3, sys_rng)
    ref = synthetic_reference(n_atoms, omega, mass, n_groups)
    sizes = np.array([len(g) for g in np.array_split(np.arange(omega.size), n_groups)])
    alphas = shell_grid(*temperatures, ref.omega_bar, r, n_shells)

    def sampler(alpha, size, rng):
        g = rng.gamma(sizes / 2.0, size=(size, n_groups))
        return 0.5 * ref.omega_bar * np.exp(alpha) * g / g.sum(axis=1, keepdims=True)

    shells = _accumulate(alphas, sampler, n_groups, n_samples, n_batches,
                         np.random.default_rng(seed), store_raw)
    info = DescriptorInfo("synthetic", {"system": "grouped_harmonic", "sizes": sizes.tolist()},
                          [f"H{k}" for k in range(n_groups)], np.zeros(n_groups, bool))
    pv = PhaseVolume(ref, shells, info, provenance={"testsystem": "grouped_harmonic",
                                                    "seed": seed})

    def exact(theta, temps) -> ExactResult:
        th = _as_2d(theta)
        t = np.atleast_1d(np.asarray(temps, dtype=float))[:, None]
        f_h = harmonic_free_energy(omega, mass, t, r)
        f_vib = f_h + KB * t / (2.0 * n_atoms) * (np.log(th) @ sizes)[None, :]
        d_star = (KB * t / (2.0 * n_atoms))[..., None] * (sizes / th)[None]
        return ExactResult(f_vib, f_vib, d_star)

    return TestSystem(pv, conv, np.ones(n_groups), exact,
                      f"grouped-mode harmonic crystal, {n_groups} groups, N={n_atoms}")


def dependent_system(n_atoms: int = 64, temperatures=(300.0, 1500.0), n_shells: int = 12,
                     n_samples: int = 4000, n_batches: int = 8, seed: int = 0,
                     spectrum_seed: int = 12345, spread: float = 0.05,
                     coupling: float = 2.0) -> tuple[TestSystem, Callable]:
    """Two uncorrelated but dependent components: the product of marginals is wrong here.

    On shell α, D − D0 = e^α[m₁ + (u, c(u² − s²))] with u ~ N(0, s²), s² = ``spread``/N and
    c = ``coupling``.  The components are uncorrelated (E[u(u² − s²)] = 0), so the PCA frame is
    (u, v), but v is a function of u.  The tilted log-moment per shell is known in closed form:
    with τ = Nβe^α, a = τθ₂cs²,

        h(θ, β) = βe^α θ·m₁ − (1/N)[a − ½ln(1 + 2a) + τ²θ₁²s²/(2(1 + 2a))],

    which :func:`dependent_system` returns as its second value, ``h_exact(theta (N_D,), beta
    (n_T,)) → (h, ∂h/∂β)`` arrays (n_T, n_α).  Raw descriptors are kept (``store_raw``).
    """
    sys_rng = np.random.default_rng(spectrum_seed)
    conv = Conventions()
    r = conv.modes_per_atom(n_atoms)
    omega = _spectrum(3 * n_atoms - 3, sys_rng)
    ref = synthetic_reference(n_atoms, omega, 50.0, 2)
    m1 = np.array([0.3, 0.2]) * ref.omega_bar      # θ = (1, 1): θ·m₁ = ω̄/2, harmonic-like
    s2 = spread / n_atoms
    alphas = shell_grid(*temperatures, ref.omega_bar, r, n_shells)

    def sampler(alpha, size, rng):
        u = rng.normal(0.0, np.sqrt(s2), size)
        return np.exp(alpha) * (m1 + np.column_stack([u, coupling * (u * u - s2)]))

    shells = _accumulate(alphas, sampler, 2, n_samples, n_batches, np.random.default_rng(seed),
                         True)
    info = DescriptorInfo("synthetic", {"system": "dependent"}, ["u", "v"], np.zeros(2, bool))
    pv = PhaseVolume(ref, shells, info, provenance={"testsystem": "dependent", "seed": seed})

    def h_exact(theta, beta):
        th = np.asarray(theta, dtype=float)
        b = np.atleast_1d(np.asarray(beta, dtype=float))[:, None]
        ea = np.exp(alphas)[None, :]
        tau = n_atoms * b * ea
        a = tau * th[1] * coupling * s2
        lin = tau**2 * th[0] ** 2 * s2 / (2.0 * (1.0 + 2.0 * a))
        h = b * ea * (th @ m1) - (a - 0.5 * np.log1p(2.0 * a) + lin) / n_atoms
        # ∂/∂β at fixed α: τ, a ∝ β
        da = a / b
        dlin = (2.0 * lin / b) - lin * 2.0 * da / (1.0 + 2.0 * a)
        dh = ea * (th @ m1) - (da - da / (1.0 + 2.0 * a) + dlin) / n_atoms
        return h, dh

    def exact(theta, temps) -> ExactResult:  # noqa: ARG001 - not closed form in α
        raise NotImplementedError("use h_exact with the estimator's own α saddle")

    system = TestSystem(pv, conv, np.ones(2), exact,
                        f"dependent components (u, c(u² − s²)), N={n_atoms}")
    return system, h_exact


def kinetic_harmonic_system(n_atoms: int = 64, temperatures=(300.0, 1500.0),
                            n_shells: int = 14, n_samples: int = 100_000, n_batches: int = 8,
                            seed: int = 0, spectrum_seed: int = 12345, mass: float = 50.0,
                            factor: float = 1.5) -> TestSystem:
    """Kinetic (NVE) shells of a harmonic crystal (method.md §4.5, §10), modes "3N-3".

    n = 3N − 3 modes and n momenta (zero total momentum).  On the energy shell H = Nε the
    microcanonical state is uniform on the 2n-sphere of energy-whitened coordinates, so the
    potential share U/(Nε) = X/(X + Y), X, Y ~ χ²_n independent (the squared radii of the two
    halves of a uniform point on the sphere).  D = [U/N, K/N] (K/N fixed), D0 = 0, shell
    ε = ω̄e^α; each sample also records 1/k.  θ = [λ, 1] is the harmonic crystal with frequencies
    √λ Ω_l: exactly F_vib = r k_BT⟨ln(√λ ħΩ_l/k_BT)⟩, s = −F_vib/T + r k_B and
    D* = [r k_BT/(2λ), r k_BT/2], r = n/N.
    """
    sys_rng = np.random.default_rng(spectrum_seed)
    conv = Conventions(modes="3N-3")
    r = conv.modes_per_atom(n_atoms)
    n = 3 * n_atoms - 3
    omega = _spectrum(n, sys_rng)
    ref = synthetic_reference(n_atoms, omega, mass, 2)
    # total energy at the harmonic saddle is r k_B T = 2 × the potential shell's ω̄e^α/2
    alphas = np.linspace(np.log(r * KB * temperatures[0] / factor / ref.omega_bar),
                         np.log(r * KB * temperatures[1] * factor / ref.omega_bar), n_shells)
    rng = np.random.default_rng(seed)
    sizes = np.full(n_batches, n_samples // n_batches)
    sizes[: n_samples % n_batches] += 1
    shells = []
    for a in alphas:
        eps = ref.omega_bar * np.exp(a)
        acc = ShellAccumulator(float(a), 2)
        for b, size in enumerate(sizes):
            x, y = rng.chisquare(n, size), rng.chisquare(n, size)
            u = eps * x / (x + y)
            k = eps * y / (x + y)
            acc.add_batch(b, np.column_stack([u, k]), energies=u, inv_kinetic=1.0 / k)
        shells.append(acc.to_stats(force_frame=True))
    info = DescriptorInfo("synthetic", {"system": "kinetic_harmonic"}, ["U/N", "K/N"],
                          np.array([False, True]))
    pv = PhaseVolume(ref, shells, info, flavour="kinetic",
                     provenance={"testsystem": "kinetic_harmonic", "seed": seed})

    def exact(theta, temps) -> ExactResult:
        th = _as_2d(theta)
        t = np.atleast_1d(np.asarray(temps, dtype=float))[:, None]
        lam = th[:, 0][None, :]
        f_vib = harmonic_free_energy(omega, mass, t, r) + 0.5 * r * KB * t * np.log(lam)
        kt = (KB * t)[..., None]
        d_star = 0.5 * r * kt * np.stack(np.broadcast_arrays(1.0 / lam, np.ones_like(lam)), -1)
        return ExactResult(f_vib, f_vib, d_star)

    return TestSystem(pv, conv, np.array([1.0, 1.0]), exact,
                      f"kinetic shells of a harmonic crystal, N={n_atoms}")
