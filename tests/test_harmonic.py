"""Hessians, normal modes and classical harmonic free energies (method.md §2.3, §3, §4.1)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from phasetune.constants import CU, HBAR, KB
from phasetune.conventions import Conventions
from phasetune.engine.calculators import ForceEvaluator
from phasetune.errors import PhasetuneError, UnstableLatticeError
from phasetune.harmonic.analysis import harmonic_analysis
from phasetune.harmonic.hessian import finite_difference_hessian, impose_acoustic_sum_rule
from phasetune.harmonic.modes import normal_modes
from phasetune.harmonic.reference import build_reference
from phasetune.model.harmonic import (
    com_translation_free_energy,
    harmonic_alpha,
    harmonic_free_energy,
    shell_log_density,
)
from phasetune.structures.crystals import crystal


@pytest.mark.parametrize("r", [3.0, 3.0 - 3.0 / 128])
def test_shell_reference_minimum_is_harmonic_free_energy(r):
    """min_α[−k_BT S_α + ω̄e^α/2] = F_H at e^α* = r k_BT/ω̄, for any spectrum (to 1e-10)."""
    rng = np.random.default_rng(0)
    omega = rng.uniform(2.0, 20.0, 381)
    mass, t = 50.0, 1000.0
    wbar = omega.mean()
    lnu = np.mean(np.log(omega / wbar))

    def f(a):
        return -KB * t * shell_log_density(a, t, mass, wbar, lnu, r) + wbar * np.exp(a) / 2

    opt = minimize_scalar(f, bracket=(-6, -2), tol=1e-14)
    assert opt.x == pytest.approx(harmonic_alpha(t, wbar, r), abs=1e-6)
    assert f(harmonic_alpha(t, wbar, r)) == pytest.approx(
        harmonic_free_energy(omega, mass, t, r), abs=1e-10)


def test_harmonic_free_energy_formula():
    omega = np.array([4.0, 9.0, 16.0])
    mass, t = 40.0, 700.0
    big_omega = np.sqrt(CU * omega / mass)
    exact = 3 * KB * t * np.mean(np.log(HBAR * big_omega / (KB * t)))
    assert harmonic_free_energy(omega, mass, t, 3.0) == pytest.approx(exact, rel=1e-14)


def test_mode_count_shift_and_com_term():
    """F^(3−3/N) − F^(3) = −(3/N) k_BT⟨ln(ħΩ/k_BT)⟩; f_trans from its definition."""
    omega, mass, t, n = np.full(381, 10.0), 50.0, 1000.0, 128
    f3 = harmonic_free_energy(omega, mass, t, 3.0)
    f33 = harmonic_free_energy(omega, mass, t, 3.0 - 3.0 / n)
    assert f33 - f3 == pytest.approx(-(1.0 / n) * f3, rel=1e-12)
    assert f33 - f3 > 0
    lam = np.sqrt(2 * np.pi * HBAR**2 * CU / (n * mass * KB * t))
    assert com_translation_free_energy(t, n, mass, 12.0 * n, n) == pytest.approx(
        -(KB * t / n) * np.log(12.0 / lam**3), rel=1e-12)


def test_acoustic_sum_rule_makes_translations_null():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(12, 12))
    h = impose_acoustic_sum_rule(a + a.T)
    assert np.allclose(h, h.T)
    t = np.zeros(12)
    t[0::3] = 1
    assert np.abs(h @ t).max() < 1e-12


@pytest.mark.parametrize("name,volume", [("mo", 15.9), ("w", 16.2)])
def test_bcc_has_three_zero_modes_and_no_negative(name, volume, request):
    pot = request.getfixturevalue(name)
    atoms = crystal("bcc", pot.elements[0], volume=volume, cells=2)
    ref = build_reference(atoms, pot, spec=pot.spec, beta0=pot.beta0())
    assert ref.n_zero == 3 and ref.n_modes == 3 * len(atoms) - 3
    assert np.all(ref.omega > 0)
    hessian = finite_difference_hessian(ForceEvaluator(atoms, pot).forces, ref.positions,
                                        ref.hessian_step)
    modes = normal_modes(hessian.matrix)
    assert np.array_equal(modes.omega, ref.omega) and modes.n_zero == 3
    assert np.abs(modes.zero_eigenvalues).max() < 1e-6 * modes.omega.max()
    assert ref.D0.shape == (pot.spec.n_components,)
    assert ref.E0 == pytest.approx(pot.beta0() + pot.theta @ ref.D0, abs=1e-10)


def test_fcc_mo_is_unstable(mo):
    atoms = crystal("fcc", "Mo", volume=16.0, cells=2)
    with pytest.raises(UnstableLatticeError, match=r"fcc Mo, 32 atoms, 16 Å³/atom.*most "
                       r"negative eigenvalue -"):
        build_reference(atoms, mo)


def test_hessian_matches_lammps_dynamical_matrix(mo, tmp_path):
    """Independent check with LAMMPS's PHONON package (mass-weighted output → × m)."""
    atoms = crystal("bcc", "Mo", volume=15.9, cells=2)
    ev = ForceEvaluator(atoms, mo)
    ours = finite_difference_hessian(ev.forces, atoms.positions, 1e-3)
    ev.engine.command(f"dynamical_matrix all regular 1e-3 file {tmp_path / 'dyn.dat'}")
    theirs = np.loadtxt(tmp_path / "dyn.dat").reshape(ours.matrix.shape) * atoms.get_masses()[0]
    assert np.abs(theirs - ours.matrix).max() < 5e-4 * np.abs(ours.matrix).max()  # %g output


def test_hessian_step_halving_is_consistent(mo):
    atoms = crystal("bcc", "Mo", volume=15.9, cells=2)
    ev = ForceEvaluator(atoms, mo)
    h1 = finite_difference_hessian(ev.forces, atoms.positions, 2e-3).matrix
    h2 = finite_difference_hessian(ev.forces, atoms.positions, 1e-3).matrix
    assert np.abs(h1 - h2).max() < 1e-4 * np.abs(h2).max()


def test_hessian_cache_returns_identical_modes(mo):
    atoms = crystal("bcc", "Mo", volume=15.7, cells=2)
    calls = []
    ref1 = build_reference(atoms, mo, progress=calls.append)
    n_first = len(calls)
    ref2 = build_reference(atoms, mo, progress=calls.append)
    assert n_first == 3 * len(atoms)  # one call per displaced coordinate
    assert np.array_equal(ref1.omega, ref2.omega)


def test_unstable_modes_error_from_matrix():
    rng = np.random.default_rng(2)
    q, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    t = np.zeros((12, 3))
    for k in range(3):
        t[k::3, k] = 0.5
    q[:, :3] = t
    q, _ = np.linalg.qr(q)  # first three columns span the translations
    h = q @ np.diag(np.r_[0, 0, 0, np.ones(7), -0.5, 2.0]) @ q.T
    with pytest.raises(UnstableLatticeError, match="dynamically unstable"):
        normal_modes(h, "test phase")


def test_harmonic_analysis_conventions(mo):
    atoms = crystal("bcc", "Mo", volume=15.9, cells=2)
    t = np.array([300.0, 1000.0])
    r3 = harmonic_analysis(atoms, mo, t)
    r33 = harmonic_analysis(atoms, mo, t, Conventions(modes="3N-3"))
    n = len(atoms)
    assert np.allclose(r33.F_harmonic, r3.F_harmonic * (3 - 3 / n) / 3, rtol=1e-12)
    assert r3.to_dict()["convention"]["modes"] == "3N"
    with pytest.raises(PhasetuneError, match="positive"):
        harmonic_analysis(atoms, mo, [-5.0])
