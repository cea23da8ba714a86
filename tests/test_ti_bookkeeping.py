"""TI bookkeeping, pure arithmetic (method.md §3, §9, §10.1): the three convention variants, the
Frenkel–Ladd Einstein terms with N_trans ≠ N, and Gibbs–Helmholtz integration."""

from __future__ import annotations

import numpy as np
import pytest

from phasetune.constants import CU, HBAR, KB
from phasetune.harmonic.modes import translation_basis
from phasetune.model import HarmonicReference
from phasetune.model.harmonic import com_translation_free_energy, harmonic_free_energy
from phasetune.ti import convention_variants
from phasetune.ti.frenkel_ladd import einstein_free_energy
from phasetune.ti.temperature import gibbs_helmholtz


def _model(n_atoms: int, omega: np.ndarray | float, n_trans: int, v_box: float,
           mass: float = 50.0, seed: int = 0) -> HarmonicReference:
    """A harmonic model with random orthonormal modes orthogonal to translations."""
    rng = np.random.default_rng(seed)
    t = translation_basis(n_atoms)
    a = rng.standard_normal((3 * n_atoms, 3 * n_atoms - 3))
    a -= t @ (t.T @ a)
    vectors, _ = np.linalg.qr(a)
    side = v_box ** (1 / 3)
    return HarmonicReference(phase="model", n_atoms=n_atoms, mass=mass, volume=v_box / n_atoms,
                             positions=rng.uniform(0, side, (n_atoms, 3)), cell=np.eye(3) * side,
                             n_trans=n_trans, D0=np.zeros(0), E0=-3.0,
                             omega=np.broadcast_to(omega, (3 * n_atoms - 3,)).astype(float),
                             eigenvectors=vectors)


def test_method_reference_numbers():
    """method.md §10.1: ω = 10 eV/Å², m = 50 amu, T = 1000 K, N = 128, V_box/N_trans = 12 Å³."""
    n, t = 128, 1000.0
    model = _model(n, 10.0, n_trans=n, v_box=12.0 * n)
    f_fixed = float(model.free_energy(t))  # r = 3 − 3/N: what COM-fixed TI measures
    v = convention_variants(f_fixed, t, model)
    assert HBAR * np.sqrt(CU * 10.0 / 50.0) == pytest.approx(28.9142e-3, abs=1e-7)
    assert v["F_3N"] - model.E0 == pytest.approx(-282.311e-3, abs=1e-6)
    assert v["harmonic_shift"] == pytest.approx(2.2056e-3, abs=1e-7)
    assert v["f_trans"] == pytest.approx(-11.723e-3, abs=1e-6)
    assert v["F_phys"] - v["F_3N-3"] == pytest.approx(v["f_trans"], abs=1e-15)
    # the ln N / N bookkeeping: F^(3−3/N) − F^(3) = −(3/N) k_BT⟨ln ħΩ/k_BT⟩ = −F_H^(3)/N
    f3 = harmonic_free_energy(model.omega, model.mass, t, 3.0)
    assert v["F_3N-3"] - v["F_3N"] == pytest.approx(-f3 / n, rel=1e-12)


def test_a15_com_term_uses_primitive_cells():
    """A15, N = 64, N_trans = 8: f_trans uses V_box/N_trans; using V_box is too low by
    (k_BT/N) ln N_trans."""
    n, n_trans, t, v_box = 64, 8, 1500.0, 64 * 16.0
    model = _model(n, np.linspace(3.0, 25.0, 3 * n - 3), n_trans=n_trans, v_box=v_box, mass=95.95)
    v = convention_variants(-10.0, t, model)
    kt = KB * t
    lam = np.sqrt(2 * np.pi * HBAR**2 * CU / (n * model.mass * kt))
    assert v["f_trans"] == pytest.approx(-(kt / n) * np.log((v_box / n_trans) / lam**3), rel=1e-13)
    wrong = float(com_translation_free_energy(t, n, model.mass, v_box, 1))
    assert v["f_trans"] - wrong == pytest.approx((kt / n) * np.log(n_trans), rel=1e-12)
    # 3.3 meV/atom at N = N_trans = 128 and 1000 K (method.md §3)
    assert KB * 1000 / 128 * np.log(128) == pytest.approx(3.27e-3, abs=0.01e-3)


@pytest.mark.parametrize("n,n_trans", [(16, 16), (64, 8), (128, 128)])
def test_frenkel_ladd_einstein_terms(n, n_trans):
    """F_phys(Einstein) − f_trans = (3 − 3/N)k_BT ln(ħΩ_E/k_BT), the COM-fixed Einstein crystal,
    which is also the harmonic free energy of 3N − 3 modes of stiffness κ."""
    t, kappa, mass, v_box = 900.0, 7.5, 55.85, 11.8 * n
    phys = einstein_free_energy(t, kappa, mass, n, v_box, n_trans)
    fixed = einstein_free_energy(t, kappa, mass, n)
    f_trans = float(com_translation_free_energy(t, n, mass, v_box, n_trans))
    assert phys - f_trans == pytest.approx(fixed, abs=1e-14)
    assert fixed == pytest.approx(
        float(harmonic_free_energy(np.full(3 * n - 3, kappa), mass, t, 3 - 3 / n)), abs=1e-14)


def test_gibbs_helmholtz_is_exact_for_a_polynomial_anharmonic_free_energy():
    """F = F_H + aT² + bT³ gives U_anh/T² = −(a + 2bT), linear in T: the trapezoid is exact."""
    model = _model(16, np.linspace(2.0, 20.0, 45), n_trans=16, v_box=16 * 11.8)
    a, b = -2e-8, 3e-12
    t = np.array([300.0, 450.0, 700.0, 1000.0, 1200.0])
    f_exact = model.free_energy(t) + a * t**2 + b * t**3
    u_anh = -(t**2) * (a + 2 * b * t)
    f, sigma = gibbs_helmholtz(t, u_anh, np.full(5, 1e-4), 2, f_exact[2], 2e-4, model)
    np.testing.assert_allclose(f, f_exact, atol=1e-13)
    assert sigma[2] == pytest.approx(2e-4) and np.all(sigma > 0)
