"""Training design matrices from LAMMPS and Bayesian linear regression with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from phasetune.errors import PhasetuneError
from phasetune.structures.crystals import crystal
from phasetune.training.dataset import generate_training_set, read_training_set
from phasetune.training.design import DesignMatrix, design_matrix
from phasetune.training.posterior import fit_posterior


@pytest.fixture(scope="module")
def mo_frames(mo):
    base = [crystal("bcc", "Mo", volume=15.9, cells=2)]
    return generate_training_set(base, mo, n_per_structure=4, seed=1)


def test_design_matrix_reproduces_reference_energies_and_forces(mo, mo_frames):
    """The shipped θ is exact for its own energies and forces: residuals at rounding level."""
    design = design_matrix(mo_frames, mo.spec)
    coef = np.r_[mo.beta0(), mo.theta]
    e_rmse, f_rmse = design.rmse(coef)
    assert e_rmse < 1e-9 and f_rmse < 1e-9
    assert design.phi.shape == (4 * (1 + 3 * 16), 1 + 30)


def test_fixed_zbl_component_moves_into_targets(w):
    frames = generate_training_set([crystal("bcc", "W", volume=16.2, cells=2)], w,
                                   n_per_structure=2, displacement=0.1, seed=2)
    design = design_matrix(frames, w.spec)
    assert design.free.sum() == 55
    e_rmse, f_rmse = design.rmse(np.r_[w.beta0(), w.theta[:55]])
    assert e_rmse < 1e-9 and f_rmse < 1e-9


def test_extxyz_roundtrip(tmp_path, mo_frames):
    from ase.io import write

    path = tmp_path / "train.extxyz"
    write(path, mo_frames)
    back = read_training_set(path)
    assert len(back) == len(mo_frames)
    assert np.allclose(back[0].get_forces(), mo_frames[0].get_forces())
    bare = mo_frames[0].copy()
    bare.calc = None
    write(tmp_path / "bare.extxyz", [bare])
    with pytest.raises(PhasetuneError, match="frame 0 has no energy"):
        read_training_set(tmp_path / "bare.extxyz")


def _synthetic(n_rows=400, p=6, noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    phi = np.c_[np.ones(n_rows), rng.normal(size=(n_rows, p - 1)) * rng.uniform(0.1, 10, p - 1)]
    coef = rng.normal(size=p)
    y = phi @ coef + noise * rng.normal(size=n_rows)
    design = DesignMatrix(phi, y, np.ones(n_rows), np.ones(n_rows, bool), np.ones(p - 1, bool))
    return design, coef


@pytest.mark.parametrize("method", ["ridge", "evidence"])
def test_posterior_recovers_known_theta_with_calibrated_errors(method):
    z = []
    for seed in range(30):
        design, coef = _synthetic(seed=seed)
        post = fit_posterior(design, method=method, ridge=1e-8)
        z.extend((post.mean - coef[1:]) / np.sqrt(np.diag(post.covariance)))
        assert post.noise == pytest.approx(0.05**2, rel=0.3)
    z = np.array(z)
    assert abs(z.mean()) < 0.2
    assert 0.8 < z.std() < 1.2  # posterior widths match the actual scatter


def test_posterior_samples_have_the_posterior_covariance():
    design, _ = _synthetic()
    post = fit_posterior(design)
    draws = post.sample(20000, seed=3)
    sd = np.sqrt(np.diag(post.covariance))
    assert np.abs(np.cov(draws.T) - post.covariance).max() / sd.max() ** 2 < 0.05
    assert np.allclose(np.std(draws, axis=0), sd, rtol=0.03)


def test_posterior_bad_inputs():
    design, _ = _synthetic(n_rows=4)
    with pytest.raises(PhasetuneError, match="training rows"):
        fit_posterior(design)
    with pytest.raises(PhasetuneError, match="unknown regression"):
        fit_posterior(_synthetic()[0], method="lasso")
