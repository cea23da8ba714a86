"""The solved temperature range (estimator/solved.py), the grid extension of `sample --t-max`
(campaign/spec.py, campaign/runner.py) and the decisions of its loop (estimator/extend.py)."""

from __future__ import annotations

import numpy as np
import pytest

from phasetune.archive.stats import ShellAccumulator
from phasetune.constants import KB
from phasetune.conventions import Conventions
from phasetune.errors import EstimatorError, PhasetuneError
from phasetune.estimator.ddos import DDOSEstimator
from phasetune.estimator.prediction import ALPHA_HIGH, ALPHA_LOW, CLAMPED
from phasetune.estimator.solved import EDGE_KINDS, edge_kind, solved_range
from phasetune.model import DescriptorInfo, PhaseVolume
from phasetune.testsystems import gaussian_system, shell_grid, synthetic_reference


@pytest.fixture(scope="module")
def gauss():
    ts = gaussian_system(seed=1)
    return ts, DDOSEstimator(ts.phase_volume, ts.conventions)


def saddle_loss_system(t_c: float = 900.0, n_atoms: int = 64, n_samples: int = 1500):
    """Gaussian shells whose covariance grows as e^{3α}: with the cumulant h = βθ·μ −
    (β²/2)θᵀKθ, f′ = a y − (3/2) b k_BT y³ − r/2 (y = βe^α) has a minimum only for
    k_BT < (32/81) a³/(b r²), so f(α) loses its interior minimum near ``t_c``."""
    rng = np.random.default_rng(0)
    omega = np.sort(np.random.default_rng(1).uniform(3.0, 20.0, 3 * n_atoms - 3))
    ref = synthetic_reference(n_atoms, omega, 50.0, 2)
    r = Conventions().modes_per_atom(n_atoms)
    m1 = np.array([0.3, 0.2]) * ref.omega_bar
    theta = np.ones(2)
    a = theta @ m1
    k1 = np.array([[1.0, 0.3], [0.3, 0.5]])
    k1 *= (32.0 / 81.0) * a**3 / (r * r * KB * t_c) / (theta @ k1 @ theta)
    chol = np.linalg.cholesky(k1 / n_atoms)
    shells = []
    for alpha in shell_grid(300.0, 1500.0, ref.omega_bar, r, 14):
        acc = ShellAccumulator(float(alpha), 2)
        for batch in range(4):
            xi = rng.standard_normal((n_samples // 4, 2))
            acc.add_batch(batch, m1 * np.exp(alpha) + np.exp(1.5 * alpha) * xi @ chol.T)
        shells.append(acc.to_stats(force_frame=True))
    info = DescriptorInfo("synthetic", {}, ["G0", "G1"], np.zeros(2, bool))
    return DDOSEstimator(PhaseVolume(ref, shells, info)), theta


def assert_edges_are_true(est, theta, found, route=None):
    """Inside every interval everything is solved; just beyond each edge it is not, with the
    status recorded there; the bracket is as narrow as promised."""
    for m, intervals in enumerate(found.intervals):
        for iv in intervals:
            inside = np.geomspace(iv.t_lo, iv.t_hi, 25)
            assert est.predict(theta[m], inside, route=route).solved.all()
            for edge in (iv.low, iv.high):
                if edge.kind == "window":
                    continue
                p = est.predict(theta[m], [edge.unsolved], route=route)
                assert not p.solved[0, 0] and p.status[0, 0] == edge.status
                assert abs(edge.unsolved - edge.temperature) <= 1e-3 * edge.temperature
                assert (edge.unsolved > edge.temperature) == (edge is iv.high)


def test_grid_edges_of_the_gaussian_system(gauss):
    ts, est = gauss
    found = est.solved_range(ts.theta_ref)
    (iv,) = found.intervals[0]
    assert iv.low.kind == "alpha_below_grid" and iv.low.status & ALPHA_LOW
    assert iv.high.kind == "alpha_above_grid" and iv.high.status & ALPHA_HIGH
    # the grid covers α_H(300/1.5) … α_H(1.5·1500): the solved range sits inside it
    assert 200.0 < iv.t_lo < 300.0 and 1500.0 < iv.t_hi < 2250.0
    assert found.grid_temperatures == pytest.approx((200.0, 2250.0))
    assert_edges_are_true(est, ts.theta_ref[None], found)
    assert "append shells" in iv.high.reason and "--t-max" in iv.high.reason
    # a narrower search ends at its own bounds
    inner = est.solved_range(ts.theta_ref, 400.0, 1000.0)
    (iv,) = inner.intervals[0]
    assert (iv.t_lo, iv.t_hi) == (400.0, 1000.0)
    assert iv.low.kind == iv.high.kind == "window"


def test_models_are_vectorised_and_a_clamped_model_says_so(gauss):
    ts, est = gauss
    tilted = ts.theta_ref * np.array([3.0, -1.0, 1.0, 1.0])  # clamped at 700 K
    thetas = np.stack([ts.theta_ref, tilted, ts.theta_ref * 1.02])
    found = est.solved_range(thetas)
    assert found.n_models == 3
    for m in (0, 2):
        one = est.solved_range(thetas[m])
        assert [(iv.t_lo, iv.t_hi) for iv in found.intervals[m]] == \
               [(iv.t_lo, iv.t_hi) for iv in one.intervals[0]]
    clamped = [e for iv in found.intervals[1] for e in (iv.low, iv.high) if e.kind == "clamped"]
    assert clamped and all(e.status & CLAMPED for e in clamped)
    assert not any(iv.contains(700.0) for iv in found.intervals[1])
    assert found.at(700.0, 1) is None and found.at(700.0, 0) is not None
    assert_edges_are_true(est, thetas, found)
    lo, hi = found.common() or (np.nan, np.nan)
    bounds = found.bounds()
    assert lo == pytest.approx(np.nanmax(bounds[:, 0])) and hi == pytest.approx(
        np.nanmin(bounds[:, 1]))
    payload = found.to_dict()
    assert payload["n_models"] == 3 and "intervals" not in payload
    assert payload["widest"]["T_hi"][0] == pytest.approx(found.main(0).t_hi)


def test_lost_saddle_is_not_an_edge_more_shells_would_move():
    est, theta = saddle_loss_system()
    found = est.solved_range(theta, route="cumulant")
    (iv,) = found.intervals[0]
    assert iv.low.kind == "alpha_below_grid"
    assert iv.high.kind == "no_interior_saddle"  # α* jumps from inside to the top shell
    assert 600.0 < iv.t_hi < 1000.0 and iv.high.status & ALPHA_HIGH
    assert iv.high.alpha_star < est.alphas[-1] - 0.5  # the last solved α* is well inside
    assert "more shells do not help" in iv.high.reason
    assert_edges_are_true(est, theta[None], found, route="cumulant")
    # the score route on the same shells: the steep tilts clamp first
    score = est.solved_range(theta)
    assert score.intervals[0][-1].high.kind == "clamped"


def test_edge_kind_rules():
    grid, spacing = [-5.0, -4.9, -3.1, -3.0], (0.2, 0.2)
    # continuous exit at the top (the last solved α* next to the top bound)
    assert edge_kind(True, ALPHA_HIGH, -3.12, -3.5, grid, spacing) == "alpha_above_grid"
    # this T's harmonic shell is itself beyond the upper bound: the shells end before it
    assert edge_kind(True, ALPHA_HIGH | CLAMPED, -3.6, -3.05, grid, spacing) \
        == "alpha_above_grid"
    # a jump from well inside to the top shell
    assert edge_kind(True, ALPHA_HIGH, -3.6, -3.5, grid, spacing) == "no_interior_saddle"
    # below the grid even when the jump lands on the top shell (status ALPHA_HIGH)
    assert edge_kind(False, ALPHA_HIGH | CLAMPED, -4.95, -4.92, grid, spacing) \
        == "alpha_below_grid"
    assert edge_kind(True, CLAMPED, -4.0, -4.1, grid, spacing) == "clamped"
    assert edge_kind(False, 8, -4.0, -4.1, grid, spacing) == "not_converged"
    assert set(EDGE_KINDS) >= {"window", "alpha_above_grid", "no_interior_saddle", "clamped"}
    for label, remedy in EDGE_KINDS.values():
        assert "too far from" not in label + remedy  # truthful for θ0 itself


def test_bad_search_window(gauss):
    ts, est = gauss
    with pytest.raises(EstimatorError, match="T_lo < T_hi"):
        solved_range(est, ts.theta_ref, 800.0, 700.0)
    with pytest.raises(EstimatorError, match="n_scan"):
        solved_range(est, ts.theta_ref, n_scan=1)


# -- the grid of `sample --t-max` ----------------------------------------------------------------
def _iso(**kw):
    from phasetune.campaign.spec import IsosurfaceSpec

    return IsosurfaceSpec(**{"temperatures": (300.0, 600.0), **kw})


def _ref(omega_bar=13.5):
    return synthetic_reference(16, np.full(45, omega_bar), 95.95, 1)


@pytest.mark.parametrize("grid", [{"spacing": 0.2}, {"count": 5}])
def test_extension_appends_shells_on_the_grids_own_lattice(grid):
    from phasetune.campaign.isosurfaces import isosurface_grid
    from phasetune.model.harmonic import harmonic_alpha

    iso = _iso(**grid)
    base, _, _ = isosurface_grid(iso, _ref())
    same, _, _ = isosurface_grid(iso, _ref(), t_max=500.0)  # below T_hi: nothing changes
    assert np.array_equal(base, same)
    wide, _, _ = isosurface_grid(iso, _ref(), t_max=1500.0)
    assert np.array_equal(wide[:base.size], base)  # existing shells untouched
    steps = np.diff(wide)
    assert np.allclose(steps, steps[0], rtol=0, atol=1e-12)  # one spacing throughout
    assert wide[-1] >= harmonic_alpha(1.5 * 1500.0, 13.5, 3.0) > wide[-2]
    if "spacing" in grid:
        assert np.allclose(wide / 0.2, np.round(wide / 0.2), atol=1e-9)


def test_extensions_are_recorded_and_never_shrink(tmp_path):
    from phasetune.archive.schema import Archive
    from phasetune.campaign.runner import extensions
    from phasetune.campaign.spec import parse_campaign

    spec = parse_campaign({
        "phases": [{"name": "bcc", "structure": "bcc", "element": "Mo", "cells": 2,
                    "volumes": [15.9]}],
        "reference": {"potential": "lammps:Mo_Chen_PRM2017"},
        "isosurfaces": {"temperatures": [300, 600], "spacing": 0.2},
        "samples": {"per_isosurface": 10}, "seed": 1, "archive": "x.h5"}, tmp_path)
    assert extensions(None, spec) == {}
    assert extensions(None, spec, {"bcc": 1200}) == {"bcc": 1200.0}
    old = Archive({"sampler": {"extended_to": {"bcc": 1500.0, "gone": 900.0}}}, [])
    assert extensions(old, spec) == {"bcc": 1500.0, "gone": 900.0}
    assert extensions(old, spec, {"bcc": 1200}) == {"bcc": 1500.0, "gone": 900.0}
    assert extensions(old, spec, {"bcc": 2000})["bcc"] == 2000.0
    with pytest.raises(PhasetuneError, match="fcc"):
        extensions(old, spec, {"fcc": 2000})


# -- the decisions of the extension loop (no sampling: run_campaign and the check are stubs) ------
class _Edge:
    def __init__(self, kind, t):
        self.kind, self.temperature = kind, t
        self.reason = ": ".join(EDGE_KINDS[kind])


class _Interval:
    def __init__(self, t_hi, kind):
        self.t_lo, self.t_hi, self.high = 300.0, t_hi, _Edge(kind, t_hi)


def _stub(monkeypatch, tmp_path, tops):
    """Stub the campaign runs and the checks; ``tops[k]`` gives round k's (T_hi, kind) per
    phase.  Returns the list of t_max requests run_campaign received."""
    from phasetune.campaign.runner import CampaignResult
    from phasetune.estimator import extend
    from phasetune.estimator.solved import SolvedRange

    requests = []

    def run(spec, t_max=None, **kwargs):
        requests.append(dict(t_max or {}))
        return CampaignResult(tmp_path / "x.h5", tmp_path / "x.log", True, 0, 0, 0,
                              extended_to=dict(t_max or {}))

    def check(spec, theta0, phases, t_max, degree):
        round_ = len(requests) - 1
        out = []
        for phase in phases:
            t_hi, kind = tops[round_][phase]
            found = SolvedRange((300.0, t_max), [[_Interval(t_hi, kind)]])
            out.append(extend.PhaseCheck(phase, 0, 15.9, 9, (200.0, 900.0), found))
        return out

    monkeypatch.setattr(extend, "run_campaign", run)
    monkeypatch.setattr(extend, "check_phases", check)
    return requests


@pytest.fixture
def two_phase_spec(tmp_path):
    from phasetune.campaign.spec import parse_campaign

    return parse_campaign({
        "phases": [{"name": n, "structure": "bcc", "element": "Mo", "cells": 2,
                    "volumes": [15.9]} for n in ("bcc", "b2")],
        "reference": {"potential": "lammps:Mo_Chen_PRM2017"},
        "isosurfaces": {"temperatures": [300, 600], "spacing": 0.2, "cover": 1.5},
        "samples": {"per_isosurface": 10}, "seed": 1, "archive": "x.h5"}, tmp_path)


def test_loop_extends_only_unsolved_phases_until_solved(monkeypatch, tmp_path, two_phase_spec):
    from phasetune.estimator.extend import extend_campaign

    w, up = "window", "alpha_above_grid"
    requests = _stub(monkeypatch, tmp_path, [
        {"bcc": (800.0, up), "b2": (1200.0, w)},
        {"bcc": (1150.0, up), "b2": (1200.0, w)},
        {"bcc": (1200.0, w), "b2": (1200.0, w)}])
    lines = []
    out = extend_campaign(two_phase_spec, 1200.0, report=lines.append)
    assert out.solved and out.complete
    # first the grid is taken to α_H(cover·T_max), then × cover per round
    assert requests == [{}, {"bcc": 1200.0}, {"bcc": 1800.0}]
    assert any("appending shells: bcc" in line for line in lines)


def test_loop_stops_when_shells_cannot_help(monkeypatch, tmp_path, two_phase_spec):
    from phasetune.estimator.extend import extend_campaign

    requests = _stub(monkeypatch, tmp_path, [
        {"bcc": (800.0, "alpha_above_grid"), "b2": (1100.0, "no_interior_saddle")}])
    with pytest.raises(EstimatorError) as info:
        extend_campaign(two_phase_spec, 1500.0)
    assert requests == [{}]  # refused before appending anything
    assert "b2 v0" in info.value.message and "1100 K" in info.value.message
    assert "no interior saddle" in info.value.message
    assert "issue 14" in info.value.hint and "--phase bcc" in info.value.hint


def test_loop_asks_for_samples_when_the_edge_is_starved(monkeypatch, tmp_path, two_phase_spec):
    from phasetune.estimator.extend import extend_campaign

    _stub(monkeypatch, tmp_path, [{"bcc": (1300.0, "low_support"), "b2": (1500.0, "window")}])
    with pytest.raises(EstimatorError) as info:
        extend_campaign(two_phase_spec, 1500.0)
    assert "too few effective samples" in info.value.message
    assert "samples.per_isosurface" in info.value.hint and "--phase b2" in info.value.hint


def test_loop_gives_up_after_its_rounds(monkeypatch, tmp_path, two_phase_spec):
    from phasetune.estimator.extend import extend_campaign

    up = {"bcc": (800.0, "alpha_above_grid"), "b2": (800.0, "alpha_above_grid")}
    requests = _stub(monkeypatch, tmp_path, [up] * 3)
    with pytest.raises(EstimatorError, match="after 2 round"):
        extend_campaign(two_phase_spec, 1200.0, max_rounds=2, phases=["bcc"])
    assert requests == [{}, {"bcc": 1200.0}, {"bcc": 1800.0}]
    with pytest.raises(PhasetuneError, match="--phase fcc"):
        extend_campaign(two_phase_spec, 1200.0, phases=["fcc"])
    with pytest.raises(PhasetuneError, match="--t-max 200"):
        extend_campaign(two_phase_spec, 200.0)
