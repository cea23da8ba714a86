"""Fine-tuning through the reweighting route (issue 16 item 5) on an exactly solvable system:
a linear model whose frame sums S = Σ_i B_i are Gaussian under θ, so that frames of any θ can
be drawn exactly (the tilted Gaussian) and ΔF(θ) is known in closed form."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from phasetune.constants import KB
from phasetune.nonlinear.model import LinearModel
from phasetune.tuning.nonlinear import ReweightedPhase, function_metric, tune_reweighted
from phasetune.tuning.targets import DeltaFTarget

T, N, K = 800.0, 8, 4
BETA = 1.0 / (KB * T)


@dataclass
class Frames:
    descriptors: np.ndarray
    theta0: np.ndarray
    temperature: float = T


class GaussianPhase:
    """S ~ N(μ − βΣ(θ − θ_a), Σ) under θ, with δF(θ) = [Δθ·μ − (β/2)ΔθᵀΣΔθ]/N exactly."""

    def __init__(self, mu, cov, theta_a, rng):
        self.mu, self.cov, self.theta_a, self.rng = mu, cov, theta_a, rng

    def frames(self, theta, n=4000) -> Frames:
        mean = self.mu - BETA * self.cov @ (theta - self.theta_a)
        s = self.rng.multivariate_normal(mean, self.cov, size=n)
        return Frames(np.repeat(s[:, None, :] / N, N, axis=1), np.array(theta, dtype=float))

    def free_energy(self, theta) -> float:
        d = theta - self.theta_a
        return float(d @ self.mu - 0.5 * BETA * d @ self.cov @ d) / N


def test_tune_reweighted_reaches_an_exact_target_by_resampling():
    rng = np.random.default_rng(11)
    theta0 = np.array([1.0, -0.5, 0.3, 0.8])
    cov_a = np.diag([4e-4, 2e-4, 3e-4, 1e-4]) * 30 * N
    cov_b = np.diag([1e-4, 3e-4, 2e-4, 4e-4]) * 30 * N
    pa = GaussianPhase(np.array([0.1, 0.2, -0.1, 0.0]) * N, cov_a, theta0, rng)
    pb = GaussianPhase(np.array([0.0, 0.1, 0.1, 0.2]) * N, cov_b, theta0, rng)
    model = LinearModel(K)
    gen = {"a": pa, "b": pb}
    phases = {name: ReweightedPhase(name, g.frames(theta0), model, anchor=0.0, min_ess=0.5)
              for name, g in gen.items()}
    target = DeltaFTarget("a", "b", T, value=-0.1, tolerance=5e-4)  # ΔF(θ0) = 0
    metric = function_metric([p.frames for p in phases.values()], model, theta0)
    calls = []

    def resample(name, theta, k):
        calls.append((name, k))
        return gen[name].frames(theta)

    out = tune_reweighted(phases, theta0, [target], metric, resample=resample, max_rounds=10,
                          max_iter=4)
    assert out.converged, out.message
    exact = pa.free_energy(out.theta) - pb.free_energy(out.theta)
    assert exact == pytest.approx(-0.1, abs=1e-3)
    assert len(out.rounds) > 1 and calls  # the ESS guard forced at least one re-sampling
    # both phases re-sampled once between consecutive rounds, rounds numbered from 1
    assert calls == [(n, k) for k in range(1, len(out.rounds)) for n in ("a", "b")]
    # without re-sampling the same target stops at the edge of what θ0's frames cover
    stuck = tune_reweighted({n: ReweightedPhase(n, g.frames(theta0), model, 0.0)
                             for n, g in gen.items()}, theta0, [target], metric,
                            resample=None, max_iter=4)
    assert not stuck.converged and "without re-sampling" in stuck.message


def test_function_metric_is_the_mean_squared_energy_change():
    rng = np.random.default_rng(3)
    model = LinearModel(K)
    frames = Frames(rng.normal(size=(50, N, K)), np.zeros(K))
    metric = function_metric([frames], model, np.zeros(K), ridge=0.0)
    step = rng.normal(size=K)
    per_atom = frames.descriptors.sum(axis=1) @ step / N
    assert step @ metric @ step == pytest.approx(np.mean(per_atom**2), rel=1e-12)


def test_tune_cli_route_reweight_on_lammps_frames(tmp_path):
    """`phasetune tune --route reweight` on a linear SNAP (16-atom BCC and 32-atom FCC Mo at
    600 K): frames sampled in LAMMPS; with a strict ESS guard and one Gauss–Newton step per
    round, every round ends at the edge of its frames' coverage and re-samples there, the
    residual shrinks round by round, and the tuned potential is written in LAMMPS format with
    the θ the report implies; a looser guard reaches a small shift in one round."""
    import json

    import yaml
    from click.testing import CliRunner

    from phasetune.cli.main import cli
    from phasetune.potentials.registry import load_potential

    for name, structure, volume in (("bcc", "bcc", 15.9), ("fcc", "fcc", 16.3)):
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump({
            "potential": "lammps:Mo_Chen_PRM2017", "structure": structure, "volume": volume,
            "cells": 2, "temperature": 600, "steps": 800, "stride": 10,
            "equilibration": 200, "chunk_frames": 40, "seed": 4, "out": f"{name}.h5"}))

    def tune(shift, min_ess, max_iter, max_rounds, out):
        (tmp_path / f"{out}.yaml").write_text(yaml.safe_dump({
            "potential": "lammps:Mo_Chen_PRM2017", "route": "reweight",
            "reweight": {"phases": {"bcc": "bcc.yaml", "fcc": "fcc.yaml"},
                         "max_rounds": max_rounds, "min_ess": min_ess},
            "targets": [{"delta_F": {"a": "fcc", "b": "bcc", "T": 600, "shift_meV": shift,
                                     "tolerance_meV": 0.05}}],
            "max_iter": max_iter, "output": out, "name": out}))
        result = CliRunner().invoke(cli, ["tune", str(tmp_path / f"{out}.yaml"), "--json"])
        assert result.exit_code in (0, 3), result.output
        return result.exit_code, json.loads(result.output)

    mo = load_potential("lammps:Mo_Chen_PRM2017")
    code, report = tune(3, 0.5, 4, 3, "easy")
    row = report["targets"][0]
    assert code == 0 and report["rounds"] == 1
    assert abs(row["residual_before_eV"] + 3e-3) < 1e-9  # the shift is measured from θ0
    assert abs(row["residual_after_eV"]) <= 5e-5 and row["solved_after"]
    tuned = load_potential(str(tmp_path / "easy" / "easy.snap"))
    change = np.linalg.norm(tuned.theta - mo.theta) / np.linalg.norm(mo.theta)
    assert change == pytest.approx(report["relative_theta_change"], rel=1e-9)

    code, report = tune(20, 0.999, 1, 2, "strict")
    row = report["targets"][0]
    assert code == 3 and report["rounds"] == 2 and not report["converged"]
    assert all((tmp_path / "strict" / "frames" / f"{p}_round1.h5").exists()
               for p in ("bcc", "fcc"))
    assert abs(row["residual_after_eV"]) < abs(row["residual_before_eV"])
    assert min(report["ess_fraction_after"].values()) >= 0.999


def test_tune_route_tangent_on_a_linear_potential_matches_the_linear_route(tmp_path):
    """A tangent archive of a linear potential is its SNAP archive, and with M = I both routes
    take the same Gauss–Newton steps: `tune --route tangent` gives the θ of `tune` (score route,
    ridge metric) on the SNAP archive."""
    import json

    import yaml
    from click.testing import CliRunner

    from phasetune.campaign.runner import run_campaign
    from phasetune.campaign.spec import load_campaign
    from phasetune.cli.main import cli
    from phasetune.potentials.registry import load_potential

    for kind, desc in (("snap", {"potential": "lammps:Mo_Chen_PRM2017"}),
                       ("tangent", {"tangent": "lammps:Mo_Chen_PRM2017"})):
        data = {"phases": [{"name": "bcc", "structure": "bcc", "element": "Mo", "cells": 2,
                            "volumes": [15.9]},
                           {"name": "a15", "structure": "a15", "element": "Mo", "cells": 1,
                            "volumes": [15.9]}],
                "reference": {"potential": "lammps:Mo_Chen_PRM2017"}, "descriptors": desc,
                "isosurfaces": {"temperatures": [300, 900], "count": 3},
                "samples": {"per_isosurface": 60, "chunk": 30}, "seed": 9,
                "archive": f"{kind}.h5"}
        (tmp_path / f"{kind}.yaml").write_text(yaml.safe_dump(data))
        assert run_campaign(load_campaign(tmp_path / f"{kind}.yaml"), workers=1,
                            quiet=True).complete
    target = [{"delta_F": {"a": "a15", "b": "bcc", "T": 600, "shift_meV": 2,
                           "tolerance_meV": 0.01}}]
    common = {"potential": "lammps:Mo_Chen_PRM2017", "targets": target, "max_iter": 6,
              "regulariser": {"kind": "ridge"}}
    (tmp_path / "snap_tune.yaml").write_text(yaml.safe_dump(
        {**common, "archives": ["snap.h5"], "output": "snap_out", "name": "a"}))
    (tmp_path / "tan_tune.yaml").write_text(yaml.safe_dump(
        {**common, "archives": ["tangent.h5"], "route": "tangent", "output": "tan_out",
         "name": "b"}))
    runner = CliRunner()
    for name in ("snap_tune", "tan_tune"):
        result = runner.invoke(cli, ["tune", str(tmp_path / f"{name}.yaml"), "--json"])
        assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["route"] == "tangent" and abs(report["targets"][0]["residual_after_eV"]) < 1e-5
    a = load_potential(str(tmp_path / "snap_out" / "a.snap"))
    b = load_potential(str(tmp_path / "tan_out" / "b.snap"))
    np.testing.assert_allclose(b.theta, a.theta, rtol=0, atol=1e-9)
