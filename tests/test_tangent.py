"""Tangent descriptors (issue 16 item 3): exact at θ0, first order away from it, constant
parameters folded into β0, and a tangent campaign of a linear potential reproducing the linear
archive."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from phasetune.nonlinear.model import LinearModel
from phasetune.nonlinear.tangent import TangentSpec, constant_parameters, tangent_spec


class CurvedModel:
    """Test system: ε(B; w, b) = b + w·B + ½γ(w·B)², θ = (w (K), b)."""

    def __init__(self, k: int, gamma: float = 0.3):
        self.n_descriptors, self.n_params, self.gamma = k, k + 1, gamma

    def energies(self, descriptors, theta, species=None):
        return self.energies_and_gradients(descriptors, theta)[0]

    def energies_and_gradients(self, descriptors, theta, species=None):
        b = np.asarray(descriptors, dtype=float)
        w, bias = theta[:-1], theta[-1]
        s = b @ w  # (F, N)
        energy = (bias + s + 0.5 * self.gamma * s**2).sum(axis=1)
        dw = np.einsum("fn,fnk->fk", 1.0 + self.gamma * s, b)
        return energy, np.concatenate([dw, np.full((len(b), 1), b.shape[1])], axis=1)


def _spec(model, theta0, base):
    probe = np.random.default_rng(1).normal(size=(3, 5, model.n_descriptors))
    constant, values = constant_parameters(model, probe, theta0)
    return TangentSpec(base=base, model=model, theta0=theta0, constant=constant,
                       constant_values=values, name="curved", model_sha256="x")


def test_constant_parameters_are_the_bias(mo):
    model = CurvedModel(mo.spec.n_block)
    theta0 = np.append(0.01 * np.arange(model.n_descriptors), -3.0)
    spec = _spec(model, theta0, mo.spec)
    assert spec.constant.tolist() == [False] * model.n_descriptors + [True]
    assert spec.constant_values[-1] == 1.0
    assert spec.n_components == model.n_descriptors + 1 and spec.fixed_mask[-1]
    assert spec.beta0(theta0) == -3.0


def test_tangent_is_exact_at_theta0_and_first_order_away(mo):
    rng = np.random.default_rng(2)
    model = CurvedModel(mo.spec.n_block)
    theta0 = np.append(0.02 * rng.normal(size=model.n_descriptors), -3.0)
    spec = _spec(model, theta0, mo.spec)
    b = rng.normal(size=(6, 8, model.n_descriptors))
    d = spec.descriptors(b)
    n = b.shape[1]
    e0 = model.energies(b, theta0) / n
    lin = lambda th: spec.beta0(th) + d @ spec.linear_theta(th)  # noqa: E731
    np.testing.assert_allclose(lin(theta0), e0, rtol=0, atol=1e-12)
    step = 1e-3 * rng.normal(size=model.n_params)
    exact = model.energies(b, theta0 + step) / n
    _, grad = model.energies_and_gradients(b, theta0)
    np.testing.assert_allclose(lin(theta0 + step), e0 + grad @ step / n, rtol=0, atol=1e-12)
    # the remainder is the curvature: second order in the step
    r1 = np.abs(exact - lin(theta0 + step)).max()
    r2 = np.abs(model.energies(b, theta0 + 2 * step) / n - lin(theta0 + 2 * step)).max()
    assert 3.5 < r2 / r1 < 4.5


def test_linear_potential_tangent_is_its_own_descriptors(mo):
    spec = tangent_spec(mo)
    assert isinstance(spec.model, LinearModel) and not spec.constant.any()
    b = np.random.default_rng(3).normal(size=(4, 5, spec.model.n_descriptors))
    d = spec.descriptors(b)
    assert spec.constant_r == pytest.approx(mo.beta0(), abs=1e-12) and not spec.has_fixed
    np.testing.assert_allclose(d, b.mean(axis=1), rtol=0, atol=1e-14)
    assert spec.beta0(mo.theta) == pytest.approx(mo.beta0(), abs=1e-12)


def test_wrong_model_width_is_refused(mo):
    from phasetune.errors import PotentialError

    model = CurvedModel(mo.spec.n_block + 1)
    with pytest.raises(PotentialError, match="reads 31 descriptors per atom"):
        TangentSpec(base=mo.spec, model=model, theta0=np.zeros(model.n_params),
                    constant=np.zeros(model.n_params, bool),
                    constant_values=np.zeros(model.n_params))


def test_tangent_campaign_of_a_linear_potential_matches_the_linear_archive(tmp_path, mo):
    """The same seed sampled with SNAP descriptors and with the tangent descriptors of the same
    (linear) potential: identical D, and F(θ) for θ0 and a perturbed θ agree."""
    from phasetune.archive.hdf5 import read_archive
    from phasetune.campaign.runner import run_campaign
    from phasetune.campaign.spec import load_campaign
    from phasetune.estimator.ddos import DDOSEstimator

    archives = {}
    for kind, desc in (("snap", {"potential": "lammps:Mo_Chen_PRM2017"}),
                       ("tangent", {"tangent": "lammps:Mo_Chen_PRM2017"})):
        data = {"phases": [{"name": "bcc", "structure": "bcc", "element": "Mo", "cells": 3,
                            "volumes": [15.9]}],
                "reference": {"potential": "lammps:Mo_Chen_PRM2017"}, "descriptors": desc,
                "isosurfaces": {"temperatures": [300, 900], "count": 2},
                "samples": {"per_isosurface": 60, "chunk": 30}, "seed": 5,
                "archive": f"{kind}.h5"}
        path = tmp_path / f"{kind}.yaml"
        path.write_text(yaml.safe_dump(data))
        spec = load_campaign(path)
        assert run_campaign(spec, workers=1, quiet=True).complete
        archives[kind] = read_archive(spec.archive_path).get("bcc")
    snap, tan = archives["snap"], archives["tangent"]
    assert tan.descriptors.kind == "tangent" and tan.descriptors.n_components == 30
    np.testing.assert_allclose(tan.reference.D0, snap.reference.D0, rtol=0, atol=1e-13)
    for s_snap, s_tan in zip(snap.shells, tan.shells, strict=True):
        np.testing.assert_allclose(s_tan.mean, s_snap.mean, rtol=1e-10, atol=1e-13)
    spec = tangent_spec(mo)
    theta = mo.theta * (1 + 0.01 * np.random.default_rng(4).normal(size=mo.theta.size))
    t = np.array([300.0, 800.0])
    ref = DDOSEstimator(snap).predict(np.stack([mo.theta, theta]), t, beta0=mo.beta0())
    out = DDOSEstimator(tan).predict(spec.linear_theta(np.stack([mo.theta, theta])), t,
                                     beta0=spec.beta0(np.stack([mo.theta, theta])))
    np.testing.assert_allclose(out.F_total, ref.F_total, rtol=0, atol=1e-9)


def _reweighted(energies: np.ndarray, beta: float) -> float:
    """−k_BT ln⟨exp(−βE)⟩ over frames (log-sum-exp), eV."""
    x = -beta * energies
    return -(np.log(np.mean(np.exp(x - x.max()))) + x.max()) / beta


def test_curvature_correction_against_exact_reweighting(mo):
    """On frames taken as the θ0 ensemble, F(θ) − F_lin(θ) is exactly the difference of two
    reweighting averages; the first-order correction c must match it within its error estimate
    e, c must vanish at θ0 and grow as δθ², and ∂c/∂θ must match finite differences."""
    from phasetune.constants import KB
    from phasetune.tangent.curvature import curvature

    rng = np.random.default_rng(6)
    model = CurvedModel(mo.spec.n_block, gamma=2.0)
    theta0 = np.append(0.05 * rng.normal(size=model.n_descriptors), -3.0)
    spec = _spec(model, theta0, mo.spec)
    b = 0.3 * rng.normal(size=(400, 8, model.n_descriptors))
    temperature = 1000.0
    beta, n = 1.0 / (KB * temperature), b.shape[1]
    direction = rng.normal(size=model.n_params)
    direction /= np.linalg.norm(direction)
    steps = np.array([0.0, 0.005, 0.01, 0.02])
    thetas = theta0 + steps[:, None] * direction
    cur = curvature(spec, b, temperature, thetas, gradient=True)
    assert abs(cur.correction[0]) < 1e-15 and cur.error[0] < 1e-15
    e0, g0 = model.energies_and_gradients(b, theta0)
    for m, theta in enumerate(thetas[1:], start=1):
        exact = (_reweighted(model.energies(b, theta) - e0, beta)
                 - _reweighted(g0 @ (theta - theta0), beta)) / n
        assert abs(cur.correction[m] - exact) <= cur.error[m]
    ratio = cur.correction[2] / cur.correction[1]
    assert 3.8 < ratio < 4.2
    h = 1e-6
    k = 3
    up = curvature(spec, b, temperature, thetas[2] + h * np.eye(model.n_params)[k]).correction
    dn = curvature(spec, b, temperature, thetas[2] - h * np.eye(model.n_params)[k]).correction
    assert cur.gradient[2, k] == pytest.approx((up - dn)[0] / (2 * h), rel=1e-5)
    assert cur.validated(tolerance=cur.error[2]).tolist() == [True, True, True, False]


def test_predict_tangent_of_a_linear_archive(tmp_path, mo):
    """predict_tangent on a tangent archive of the linear potential: F equals the D-DOS of the
    linear potential, the gradient is ⟨D⟩, the curvature correction is exactly zero and every
    step is validated; a foreign potential is refused."""
    from phasetune.archive.hdf5 import read_archive
    from phasetune.campaign.runner import run_campaign
    from phasetune.campaign.spec import load_campaign
    from phasetune.errors import EstimatorError
    from phasetune.estimator.ddos import DDOSEstimator
    from phasetune.potentials.registry import load_potential
    from phasetune.tangent.prediction import predict_tangent, spec_for, tangent_record

    data = {"phases": [{"name": "bcc", "structure": "bcc", "element": "Mo", "cells": 2,
                        "volumes": [15.9]}],
            "reference": {"potential": "lammps:Mo_Chen_PRM2017"},
            "descriptors": {"tangent": "lammps:Mo_Chen_PRM2017"},
            "isosurfaces": {"temperatures": [300, 900], "count": 2},
            "samples": {"per_isosurface": 40, "chunk": 20}, "seed": 2, "archive": "t.h5"}
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(data))
    campaign = load_campaign(tmp_path / "t.yaml")
    assert run_campaign(campaign, workers=1, quiet=True).complete
    archive = read_archive(campaign.archive_path)
    record = tangent_record(archive.metadata)
    theta = mo.theta * (1 + 0.01 * np.random.default_rng(7).normal(size=mo.theta.size))
    spec = spec_for(record, mo.with_theta(theta))
    est = DDOSEstimator(archive.get("bcc"))
    frames = (np.random.default_rng(8).normal(size=(5, 16, 30)), 600.0)
    out = predict_tangent(est, spec, np.stack([mo.theta, theta]), [300.0, 600.0],
                          frames=frames, gradient=True)
    ref = est.predict(np.stack([mo.theta, theta]), [300.0, 600.0], beta0=mo.beta0(),
                      gradient=True)
    np.testing.assert_allclose(out.F_lin, ref.F_total, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out.F, ref.F_total, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out.gradient, ref.D_star, rtol=0, atol=1e-12)
    assert out.corrected.tolist() == [False, True] and out.validated.all()
    np.testing.assert_allclose(out.curvature.correction, 0.0, atol=1e-15)
    with pytest.raises(EstimatorError, match="not sampled with tangent descriptors"):
        tangent_record({"descriptor": {"spec": {"kind": "snap"}}})
    # the CLI: the same F for θ0 and the perturbed potential written to disk
    import json

    from click.testing import CliRunner

    from phasetune.cli.main import cli

    mo.with_theta(theta, name="mo_p").write(tmp_path, "mo_p")
    result = CliRunner().invoke(cli, ["tangent", str(campaign.archive_path), "--potential",
                                      "lammps:Mo_Chen_PRM2017", "--potential",
                                      str(tmp_path / "mo_p.snap"), "-T", "300", "600",
                                      "--json"])
    assert result.exit_code == 0, result.output
    row = json.loads(result.output)["phases"]["bcc"]
    np.testing.assert_allclose(row["F"], ref.F_total, rtol=0, atol=1e-9)
    assert row["corrected"] == [False, False] and row["curvature"] is None
    from phasetune.errors import PhasetuneError

    w = load_potential("lammps:W_2940_2017_2")
    with pytest.raises(PhasetuneError, match="W_2940"):
        spec_for(record, w)
