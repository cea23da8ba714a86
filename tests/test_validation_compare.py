"""The D-DOS–TI comparison on analytic phases: deviations, ΔF rows, targets and coverage."""

from __future__ import annotations

import numpy as np
import pytest
from analytic_phases import AnalyticPhase

from phasetune.validation.compare import ABS_TARGET, Z90, compare
from phasetune.validation.runs import perturbed_thetas


def _phases():
    return {"bcc": AnalyticPhase([1.0, 0.5], [1.0, 0.2], t_range=(100.0, 1500.0), sigma=2e-4),
            "a15": AnalyticPhase([1.1, 0.4], [0.8, 0.3], t_range=(100.0, 1000.0), sigma=3e-4)}


def _ti(phases, thetas, temps, offset):
    """TI results equal to the exact F plus an offset per (phase, model), σ_TI = 0.2 meV."""
    out = {}
    for name, est in phases.items():
        f = est.predict(thetas, temps).F_total
        for i, t in enumerate(temps):
            out[(name, t)] = {"F": list(f[i] - offset[name]), "sigma": [2e-4] * len(thetas)}
    return out


def test_deviations_targets_and_coverage():
    phases = _phases()
    thetas = np.array([[1.0, 1.0], [1.02, 0.97]])
    temps = [600.0, 1200.0]
    offset = {"bcc": np.array([0.1e-3, 3.0e-3]), "a15": np.array([0.2e-3, -0.1e-3])}
    c = compare(phases, thetas, 0.0, _ti(phases, thetas, temps, offset))
    rows = {(r["phase"], r["T"], r["model"]): r for r in c.rows}
    assert len(rows) == 2 * 2 * 2
    r = rows[("bcc", 600.0, "θ1")]
    assert r["deviation"] == pytest.approx(3.0e-3)
    assert r["sigma"] == pytest.approx(np.hypot(2e-4, 2e-4))
    assert not r["within_target"] and not r["covered"]
    ok = rows[("bcc", 600.0, "θ0")]
    assert ok["within_target"] and ok["covered"] == (abs(ok["deviation"]) <= Z90 * ok["sigma"])
    assert not rows[("a15", 1200.0, "θ0")]["solved"]  # outside the analytic phase's range
    # ΔF = F_a15 − F_bcc: its deviation is the difference of the two offsets' negatives
    d = {(x["T"], x["model"]): x for x in c.differences}
    assert d[(600.0, "θ1")]["deviation"] == pytest.approx(offset["a15"][1] - offset["bcc"][1])
    assert not d[(1200.0, "θ0")]["solved"]
    s = c.summary
    assert s["absolute"]["solved"] == 6 and s["absolute"]["within_target"] == 4
    assert s["absolute"]["max_abs_deviation"] == pytest.approx(3.0e-3)
    assert not s["absolute"]["target_met"] and s["absolute"]["target"] == ABS_TARGET


def test_missing_ti_values_are_skipped():
    phases = _phases()
    thetas = np.array([[1.0, 1.0], [1.02, 0.97]])
    ti = _ti(phases, thetas, [600.0], {"bcc": np.zeros(2), "a15": np.zeros(2)})
    ti[("bcc", 600.0)]["F"][1] = float("nan")
    c = compare(phases, thetas, 0.0, ti)
    assert {(r["phase"], r["model"]) for r in c.rows} == {("bcc", "θ0"), ("a15", "θ0"),
                                                          ("a15", "θ1")}
    assert all(abs(r["deviation"]) < 1e-12 for r in c.rows)
    assert c.summary["absolute"]["target_met"] and c.summary["coverage_met"]


def test_perturbed_thetas_keep_theta0_and_fixed_components(w):
    thetas = perturbed_thetas(w, 3, scale=0.01, seed=4)
    assert thetas.shape == (4, w.spec.n_components)
    assert np.array_equal(thetas[0], w.theta)
    assert np.all(thetas[1:, w.spec.fixed_mask] == 1.0)
    rel = (thetas[1:] - w.theta)[:, ~w.spec.fixed_mask] / np.abs(w.theta[~w.spec.fixed_mask])
    assert 0.005 < rel.std() < 0.02
    assert np.array_equal(perturbed_thetas(w, 3, scale=0.01, seed=4), thetas)


def test_cached_ti_serves_theta_equal_up_to_rounding(tmp_path):
    """A finished TI result is reused for θ that differ only by rounding (a re-run tuning), and
    not for a different θ or other settings."""
    import json

    from phasetune.validation.runs import TISettings, ti_for_phase

    thetas = np.array([[1.0, -0.5, 0.25], [1.01, -0.49, 0.26]])
    settings = TISettings()
    record = {"phase": "bcc", "T": 900.0, "thetas": thetas.tolist(),
              "settings": settings.to_dict(), "F": [-1.0, -1.1], "sigma": [1e-4, 1e-4]}
    (tmp_path / "mo_bcc_900K_0badc0de.json").write_text(json.dumps(record))
    (tmp_path / "mo_bcc_900K_lambda.ckpt.json").write_text("{}")  # checkpoints are skipped

    def lookup(th, s=settings):
        return ti_for_phase("mo.h5", "bcc", None, 900.0, th, tmp_path, s, progress=False,
                            run=False)

    assert lookup(thetas * (1 + 3e-15))["F"] == [-1.0, -1.1]
    assert lookup(thetas * (1 + 1e-6)) is None
    assert lookup(thetas[:1]) is None
    assert lookup(thetas, TISettings(repeats=settings.repeats + 1)) is None
