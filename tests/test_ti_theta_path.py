"""θ-integration between linear potentials (route C): the end-point formula on Gaussian
fluctuations with an exact answer, and the LAMMPS route against two λ-integrations."""

from __future__ import annotations

import numpy as np
import pytest

from phasetune.constants import KB
from phasetune.errors import PhasetuneError
from phasetune.structures.crystals import crystal
from phasetune.ti import LambdaSettings, ThetaPathSettings, thermodynamic_integration, theta_path
from phasetune.ti.theta_path import end_point_difference


def test_end_point_formula_is_exact_for_gaussian_descriptors():
    """E_λ = N(θ0 + λΔθ)·D with D ~ N(μ0, Σ/N) under θ0 (a harmonic crystal in descriptor
    space): ⟨D⟩_λ = μ0 − βλΣΔθ, Var_λ(Δθ·D) = ΔθᵀΣΔθ/N for every λ, and exactly
    F(1) − F(0) = Δθ·μ0 − (β/2)ΔθᵀΣΔθ.  The formula must reproduce it from sampled ends."""
    rng = np.random.default_rng(3)
    n_atoms, t, dim = 54, 1200.0, 6
    beta = 1.0 / (KB * t)
    a = rng.normal(size=(dim, dim))
    sigma = 1e-3 * (a @ a.T + dim * np.eye(dim))
    mu0 = rng.normal(size=dim)
    delta = 0.05 * rng.normal(size=dim)
    exact = delta @ mu0 - 0.5 * beta * delta @ sigma @ delta
    chol = np.linalg.cholesky(sigma / n_atoms)
    n = 400_000
    d0 = mu0 + rng.normal(size=(n, dim)) @ chol.T
    d1 = mu0 - beta * sigma @ delta + rng.normal(size=(n, dim)) @ chol.T
    p0, p1 = d0 @ delta, d1 @ delta
    got = end_point_difference(p0.mean(), p1.mean(), p0.var(), p1.var(), t, n_atoms)
    error = np.hypot(p0.std(), p1.std()) / np.sqrt(n)
    assert abs(got - exact) < 4 * error
    # the plain first-order estimate is off by the (β/2)ΔθᵀΣΔθ curvature term
    assert abs(p0.mean() - exact) > 10 * error


def test_theta_path_matches_two_lambda_integrations(mo, tmp_path):
    """16-atom BCC Mo at 600 K: F(θ1) − F(θ0) from θ-integration equals the difference of two
    independent λ-integrations within their errors, and a rerun resumes from the checkpoint."""
    atoms = crystal("bcc", "Mo", volume=15.9, cells=2)
    theta0 = mo.theta
    rng = np.random.default_rng(5)
    theta1 = theta0 + 0.03 * np.abs(theta0) * rng.normal(size=theta0.size)
    settings = ThetaPathSettings(equilibration=200, production=1500)
    path = theta_path(atoms, mo, theta1[None, :], [600.0], repeats=2, seed=1,
                      checkpoint=str(tmp_path / "theta.json"), progress=False,
                      settings=settings)
    lam = LambdaSettings(n_nodes=4, equilibration=200, production=800)
    runs = [thermodynamic_integration(atoms, pot, [600.0], repeats=2, seed=2, progress=False,
                                      lambda_settings=lam).points[0]
            for pot in (mo, mo.with_theta(theta1))]
    reference = runs[1].F_com_fixed - runs[0].F_com_fixed
    combined = np.hypot(np.hypot(runs[0].sigma, runs[1].sigma), path.sigma[0, 0])
    print(f"\nθ-path {1e3 * path.delta_F[0, 0]:.3f} ± {1e3 * path.sigma[0, 0]:.3f} meV, "
          f"λ-TI difference {1e3 * reference:.3f} meV, combined σ {1e3 * combined:.3f} meV")
    assert abs(path.delta_F[0, 0] - reference) < 3 * combined
    assert path.sigma[0, 0] < 0.5e-3
    assert abs(path.correction[0, 0]) < abs(path.delta_F[0, 0])
    again = theta_path(atoms, mo, theta1[None, :], [600.0], repeats=2, seed=1,
                       checkpoint=str(tmp_path / "theta.json"), progress=False,
                       settings=settings)
    assert again.delta_F[0, 0] == path.delta_F[0, 0]


def test_theta_path_refuses_a_changed_fixed_component(w):
    theta = w.theta.copy()
    theta[w.spec.fixed_mask] = 2.0
    with pytest.raises(PhasetuneError, match="fixed"):
        theta_path(crystal("bcc", "W", volume=16.2, cells=2), w, theta[None, :], [300.0],
                   progress=False)
