"""import-descriptordos → fit → predict → phases → tune on the shared Fe data, through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from phasetune.cli.main import cli


def run(args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def fe_archive(tmp_path_factory, fe_data):
    out = tmp_path_factory.mktemp("fe") / "fe.h5"
    result = run(["import-descriptordos", fe_data / "Fe_bcc_444_Hessian_single_vol.pkl",
                  fe_data / "Fe_fcc_333_Hessian_single_vol.pkl", "--snapparam",
                  fe_data / "X_Fe.snapparam", "-o", out])
    assert result.exit_code == 0, result.output
    return out


def test_fit_is_stored_and_reused(fe_archive):
    first = json.loads(run(["fit", fe_archive, "--json"]).output)
    assert {f["phase"] for f in first["fits"]} == {"bcc", "fcc"}
    again = json.loads(run(["fit", fe_archive, "--json"]).output)
    assert not any(f["refitted"] for f in again["fits"])


def test_predict_json_and_gradient(fe_archive, fe_data, tmp_path):
    coeff = fe_data / "X_Fe.snapcoeff"
    result = run(["predict", fe_archive, "--potential", coeff, "-T", "600", "900",
                  "--gradient", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    bcc = payload["phases"]["bcc"]
    assert np.shape(bcc["F_total"]) == (2, 1) and np.shape(bcc["D_star"]) == (2, 1, 55)
    assert bcc["conventions"]["modes"] == "3N"
    # an ensemble from a θ file
    from phasetune.potentials.registry import load_potential

    theta = load_potential(str(coeff)).theta
    np.save(tmp_path / "thetas.npy", np.stack([theta, theta * 1.001]))
    ens = json.loads(run(["predict", fe_archive, "--potential", coeff, "--theta-file",
                          tmp_path / "thetas.npy", "-T", "600", "--phase", "fcc",
                          "--json"]).output)
    assert list(ens["phases"]) == ["fcc"] and ens["n_models"] == 2


def test_descriptor_mismatch_is_a_clear_error(fe_archive):
    result = run(["predict", fe_archive, "--potential", "lammps:Mo_Chen_PRM2017", "-T", "600"])
    assert result.exit_code == 2
    assert "descriptor mismatch" in result.output and "Traceback" not in result.output


def test_wrong_theta_file_length(fe_archive, fe_data, tmp_path):
    np.savetxt(tmp_path / "t.txt", np.ones((2, 10)))
    result = run(["predict", fe_archive, "--potential", fe_data / "X_Fe.snapcoeff",
                  "--theta-file", tmp_path / "t.txt", "-T", "600"])
    assert result.exit_code == 2 and "rows have 10 values" in result.output


def test_phases_reports_and_plots(fe_archive, fe_data, tmp_path):
    png = tmp_path / "phases.png"
    result = run(["phases", fe_archive, "--potential", fe_data / "X_Fe.snapcoeff", "-T", "400",
                  "2400", "--points", "6", "--plot", png, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert set(payload["phases"]) == {"bcc", "fcc"}
    assert "fcc-bcc" in payload["delta_F"] and "bcc/fcc" in payload["transitions"]
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_tune_refuses_to_extrapolate(fe_archive, fe_data, tmp_path):
    cfg = tmp_path / "tune.yaml"
    cfg.write_text(
        f"archives: [{fe_archive}]\npotential: {fe_data / 'X_Fe.snapcoeff'}\n"
        "targets:\n  - transition: {low: bcc, high: fcc, T: 3500}\n"
        "regulariser: {kind: ridge}\noutput: out\n")
    result = run(["tune", cfg])
    assert result.exit_code == 3
    assert "left the sampled region" in result.output


@pytest.mark.parametrize("text,message", [
    ("archives: []\npotential: x\ntargets: []\n", "archives"),
    ("archives: [a.h5]\npotential: x\ntargets:\n  - {transition: {low: a, high: b, T: -5}}\n",
     "targets.0.transition.T"),
    ("archives: [a.h5]\npotential: x\ntargets:\n  - {transition: {low: a, high: b, T: 5}}\n"
     "regulariser: {kind: lasso}\n", "regulariser.kind"),
    ("archives: [a.h5]\npotential: x\ntargtes: []\n", "targtes"),
])
def test_tune_yaml_errors_name_the_key(tmp_path, text, message):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    result = run(["tune", cfg])
    assert result.exit_code == 2 and message in result.output
