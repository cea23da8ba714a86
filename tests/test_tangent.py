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
