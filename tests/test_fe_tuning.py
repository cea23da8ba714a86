"""Issue acceptance on external data: tune X_Fe's BCC→FCC transition to 1063 K (the paper's
target) without new sampling; the tuned potential must predict T_c within ±5 K with every
prediction solved.  On these data the score route is flagged (samples centred on unstrained
positions give tilts beyond the histogram range), so the documented cumulant route is used."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from phasetune.cli.main import cli
from phasetune.estimator.store import load_estimators
from phasetune.phases.transitions import transitions
from phasetune.potentials.registry import load_potential


@pytest.fixture(scope="module")
def fe_archive(tmp_path_factory, fe_data):
    out = tmp_path_factory.mktemp("fe_tune") / "fe.h5"
    result = CliRunner().invoke(cli, [
        "import-descriptordos", str(fe_data / "Fe_bcc_444_Hessian_single_vol.pkl"),
        str(fe_data / "Fe_fcc_333_Hessian_single_vol.pkl"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_tune_x_fe_transition_to_1063_k(fe_archive, fe_data):
    cfg = fe_archive.parent / "tune.yaml"
    cfg.write_text(
        f"archives: [{fe_archive}]\npotential: {fe_data / 'X_Fe.snapcoeff'}\n"
        "targets:\n  - transition: {low: bcc, high: fcc, T: 1063}\n"
        "route: cumulant\nregulariser: {kind: ridge, n_per_phase: 1}\n"
        "output: tuned\nname: X_Fe_tuned\n")
    result = CliRunner().invoke(cli, ["tune", str(cfg), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert report["converged"] and all(all(s["solved"]) for s in report["trajectory"])
    assert 0 < report["relative_theta_change"] < 0.05
    after = report["targets"][0]["transitions_after"]
    assert after[0]["kind"] == "root" and after[0]["solved"]
    assert abs(after[0]["T_c"] - 1063.0) < 5.0
    # independently: the written potential, reloaded, has T_c = 1063 ± 5 K
    tuned = load_potential(str(fe_archive.parent / "tuned" / "X_Fe_tuned.snapcoeff"))
    est = load_estimators(fe_archive, route="cumulant")
    (tr,) = transitions(est["bcc"], est["fcc"], tuned.theta, np.arange(700.0, 1301.0, 50.0),
                        ("bcc", "fcc"))
    assert tr.kind == "root" and tr.solved and abs(tr.T_c - 1063.0) < 5.0
    original = load_potential(str(fe_data / "X_Fe.snapcoeff"))
    assert not np.allclose(tuned.theta, original.theta)
