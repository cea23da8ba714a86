"""The kinetic (NVE) shell route of the estimator (method.md §4.5): an exactly solvable harmonic
crystal sampled on its microcanonical shells, the campaign-made shell measure s_ref, and the
refusal of kinetic archives that predate the ⟨1/K⟩ record."""

from __future__ import annotations

from dataclasses import replace

import h5py
import numpy as np
import pytest

from phasetune.archive.hdf5 import read_archive, write_archive
from phasetune.constants import KB
from phasetune.conventions import Conventions
from phasetune.errors import EstimatorError
from phasetune.estimator import kernels
from phasetune.estimator.ddos import DDOSEstimator
from phasetune.estimator.kinetic import reference_entropy, shell_slopes
from phasetune.model import PhaseVolume
from phasetune.model.harmonic import harmonic_free_energy, microcanonical_entropy
from phasetune.testsystems import kinetic_harmonic_system

TEMPS = np.array([300.0, 600.0, 1000.0, 1500.0])
THETAS = np.array([[0.9, 1.0], [1.0, 1.0], [1.1, 1.0]])


@pytest.fixture(scope="module")
def system():
    return kinetic_harmonic_system(n_atoms=64, n_samples=100_000, seed=3)


@pytest.fixture(scope="module")
def estimator(system):
    return DDOSEstimator(system.phase_volume, system.conventions)


def test_microcanonical_entropy_saddle_is_the_harmonic_free_energy():
    rng = np.random.default_rng(0)
    omega, mass, r = rng.uniform(3.0, 20.0, 93), 50.0, 93 / 32
    for t in (200.0, 1700.0):
        eps = np.exp(np.linspace(np.log(0.2 * r * KB * t), np.log(5 * r * KB * t), 200_001))
        best = np.max(microcanonical_entropy(eps, omega, mass, r) - eps / (KB * t))
        assert -KB * t * best == pytest.approx(harmonic_free_energy(omega, mass, t, r), abs=1e-9)


def test_kinetic_harmonic_crystal_free_energy_entropy_and_gradient(system, estimator):
    p = estimator.predict(THETAS, TEMPS, gradient=True)
    exact = system.exact(THETAS, TEMPS)
    err = p.F_vib - exact.F_vib
    assert p.solved.all()
    assert np.abs(err).max() < 2e-4  # eV/atom
    assert np.all(np.abs(err) <= 3.0 * p.sigma_F + 1e-6)  # σ covers the error
    assert np.all(p.sigma_F < 2e-4)
    s_exact = -exact.F_vib / TEMPS[:, None] + estimator.r * KB
    assert np.abs((p.entropy - s_exact) * TEMPS[:, None]).max() < 3e-4
    assert np.allclose(p.D_star, exact.D_star, rtol=5e-3)
    # F_total + Ts = β0 + θ·D* (kinetic energy included in D*)
    assert np.allclose(p.F_total + TEMPS[:, None] * p.entropy,
                       np.einsum("tmk,mk->tm", p.D_star, THETAS), atol=1e-9)
    # shell temperature: the plain crystal sits on the shell whose β(ε*) is 1/k_BT
    assert np.allclose(p.T_alpha_star[:, 1], TEMPS, rtol=2e-3)
    cum = estimator.cumulant(THETAS, TEMPS)
    assert np.abs(cum.F_vib - exact.F_vib).max() < 2e-4


def test_kinetic_route_in_the_3n_convention(system):
    est = DDOSEstimator(system.phase_volume, Conventions(modes="3N"))
    ref = system.phase_volume.reference
    p = est.predict(np.array([1.0, 1.0]), TEMPS)
    assert p.conventions["modes"] == "3N" and p.solved.all()
    assert np.abs(p.F_vib[:, 0] - harmonic_free_energy(ref.omega, ref.mass, TEMPS, 3.0)).max() \
        < 2e-4


@pytest.mark.parametrize("model", ["power", "log"])
def test_reference_entropy_is_the_harmonic_microcanonical_entropy(system, model):
    ref = system.phase_volume.reference
    kin = reference_entropy(system.phase_volume, system.conventions, model=model)
    alphas, g, sigma = shell_slopes(system.phase_volume)
    r_n = ref.n_modes / ref.n_atoms
    # measured slope ds_ref/dα = 1/N + ε β(Nε) against the exact (n − 1)/N + 1/N = n/N
    assert np.all(np.abs(g - r_n) < 4.0 * sigma) and np.all(sigma < 2e-3)
    # anchor: the harmonic entropy at the lowest shell, correction consistent with zero
    eps1 = ref.omega_bar * np.exp(alphas[0])
    assert kin.anchor == pytest.approx(microcanonical_entropy(eps1, ref.omega, ref.mass, r_n))
    assert abs(kin.correction) < 3.0 * kin.correction_sigma
    # integrated s_ref against the exact harmonic microcanonical entropy on and between shells
    grid = np.linspace(alphas[0], alphas[-1], 41)
    exact = microcanonical_entropy(ref.omega_bar * np.exp(grid), ref.omega, ref.mass, r_n)
    assert np.all(np.abs(kin.value(grid) - exact) < 3.0 * kin.sigma(grid) + 1e-6)
    assert np.abs(kin.value(grid) - exact).max() < 2e-3
    # the measure handed to the saddle solver is s_ref itself, and its slope ds_ref/dα
    m = kin.measure()
    values = np.array([kernels._measure.py_func(m, a)[:2] for a in grid])
    assert np.allclose(values[:, 0], kin.value(grid), rtol=0, atol=1e-11)
    assert np.allclose(values[:, 1], kin.derivative(grid), rtol=0, atol=1e-9)
    # either model gives the exact free energies within the errors
    est = DDOSEstimator(system.phase_volume, system.conventions, kinetic_model=model)
    p = est.predict(THETAS, TEMPS)
    err = p.F_vib - system.exact(THETAS, TEMPS).F_vib
    assert p.solved.all() and np.abs(err).max() < 2e-4
    assert np.all(np.abs(err) <= 3.0 * p.sigma_F)


def test_kinetic_archive_without_the_inverse_kinetic_record_is_refused(system, tmp_path):
    pv = system.phase_volume
    old = PhaseVolume(pv.reference, [replace(s, inv_kinetic=None) for s in pv.shells],
                      pv.descriptors, "kinetic", pv.provenance)
    with pytest.raises(EstimatorError, match="re-sample: this kinetic archive predates") as err:
        DDOSEstimator(old)
    assert "\n" not in str(err.value)
    # the same through an archive file written before the record existed
    path = tmp_path / "old.h5"
    write_archive(path, [pv], {"conventions": {"modes": "3N-3"}, "sampler": {"flavour": "kinetic"},
                               "reference_potential": {"name": "harmonic"}})
    assert read_archive(path).phase_volumes[0].shells[0].inv_kinetic.shape == (8, 3)
    with h5py.File(path, "r+") as f:
        for sg in f["phases/synthetic/v0/shells"].values():
            del sg["inv_kinetic"]
    loaded = read_archive(path).phase_volumes[0]
    assert loaded.flavour == "kinetic" and loaded.shells[0].inv_kinetic is None
    with pytest.raises(EstimatorError, match="re-sample: this kinetic archive predates"):
        DDOSEstimator(loaded)
