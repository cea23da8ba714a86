"""predict -P, phases -P and diagram on a tiny multi-volume campaign phasetune samples itself,
with volumes generated from the reference's equation of state (16-atom BCC, 8-atom A15 Mo)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from phasetune.cli.main import cli
from phasetune.constants import KB

CAMPAIGN = """
phases:
  - {name: bcc, structure: bcc, element: Mo, cells: 2,
     volumes: {around: equilibrium, span: [-3 %, +3 %], count: 5, pressures: [0, 10]}}
  - {name: a15, structure: a15, element: Mo, cells: 1,
     volumes: {around: equilibrium, span: [-3 %, +3 %], count: 5, pressures: [0, 10]}}
reference: {potential: "lammps:Mo_Chen_PRM2017"}
isosurfaces: {temperatures: [300, 900], count: 5}
samples: {per_isosurface: 150, chunk: 75}
seed: 11
archive: mo_pv.h5
executor: {kind: local, workers: 1}
"""
POT = "lammps:Mo_Chen_PRM2017"


def run(args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    d = tmp_path_factory.mktemp("pressure")
    (d / "campaign.yaml").write_text(CAMPAIGN)
    result = run(["sample", d / "campaign.yaml", "--quiet"])
    assert result.exit_code == 0, result.output
    return d / "mo_pv.h5"


def test_predict_at_pressure(archive, tmp_path):
    result = run(["predict", archive, "--potential", POT, "-T", "300", "600", "-P", "0", "5",
                  "--json", "--plot", tmp_path / "g.png"])
    assert result.exit_code == 0, result.output
    bcc = json.loads(result.output)["phases"]["bcc"]
    assert np.shape(bcc["G"]) == (2, 2, 1) and bcc["pressures_GPa"] == [0.0, 5.0]
    v = np.array(bcc["volume"])[..., 0]
    lo, hi = bcc["sampled_volumes"][0], bcc["sampled_volumes"][-1]
    assert np.all(bcc["solved"]) and np.all((v > lo) & (v < hi))
    assert np.all(v[1] < v[0]) and np.all(v[:, 1] > v[:, 0])      # compressed; expands
    b = np.array(bcc["bulk_modulus_GPa"])[0, 0, 0]
    assert 200 < b < 320                                          # static B0 ≈ 259 GPa
    assert np.array(bcc["heat_capacity"])[0, 0, 0] / KB == pytest.approx(3.0, abs=0.3)
    assert (tmp_path / "g.png").stat().st_size > 0
    text = run(["predict", archive, "--potential", POT, "-T", "300", "-P", "0", "200"])
    assert text.exit_code == 0
    assert "pressure above the sampled range" in text.output


def test_phases_and_diagram(archive, tmp_path):
    result = run(["phases", archive, "--potential", POT, "-T", "300", "900", "--points", "4",
                  "-P", "0", "5", "--json"])
    assert result.exit_code == 0, result.output
    isobars = json.loads(result.output)["isobars"]
    assert [i["P_GPa"] for i in isobars] == [0.0, 5.0]
    result = run(["diagram", archive, "--potential", POT, "-P", "0", "5", "--pressure-points",
                  "3", "-T", "300", "900", "--points", "4", "--json", "--plot",
                  tmp_path / "d.png"])
    assert result.exit_code == 0, result.output
    d = json.loads(result.output)
    assert d["phases"] == ["bcc", "a15"] and np.shape(d["G"]) == (2, 3, 4)
    solved = np.array(d["stable_phase"]) != ""
    assert solved.any() and {s for row in d["stable_phase"] for s in row} <= {"bcc", ""}
    assert (tmp_path / "d.png").stat().st_size > 0
    text = run(["diagram", archive, "--potential", POT, "-P", "0", "5", "--pressure-points", "3",
                "-T", "300", "900", "--points", "4"])
    assert text.exit_code == 0 and "bcc/a15" in text.output


def test_single_volume_with_pressure_is_refused(tmp_path):
    from phasetune.testsystems import gaussian_system  # noqa: F401 - archive below is real

    d = tmp_path
    (d / "c.yaml").write_text(CAMPAIGN.replace(
        "volumes: {around: equilibrium, span: [-3 %, +3 %], count: 5, pressures: [0, 10]}",
        "volumes: [15.9]").replace("  - {name: a15, structure: a15, element: Mo, cells: 1,\n"
                                   "     volumes: [15.9]}\n", "")
        .replace("count: 5}", "count: 3}").replace("per_isosurface: 150", "per_isosurface: 40"))
    assert run(["sample", d / "c.yaml", "--quiet"]).exit_code == 0
    result = run(["predict", d / "mo_pv.h5", "--potential", POT, "-T", "300", "-P", "0"])
    assert result.exit_code == 2 and "single volume" in result.output
    assert "Traceback" not in result.output


def test_tune_at_pressure(archive, tmp_path):
    cfg = tmp_path / "tune.yaml"
    cfg.write_text(f"archives: [{archive}]\npotential: {POT}\n"
                   "targets:\n  - delta_F: {a: a15, b: bcc, T: 500, P: 5, shift_meV: -3}\n"
                   "  - volume: {phase: bcc, T: 300, P: 0, value: 15.9}\n"
                   "regulariser: {kind: ridge, n_per_phase: 1}\noutput: tuned\nname: Mo_p\n")
    result = run(["tune", cfg, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["converged"], report["message"]
    assert [t["P_GPa"] for t in report["targets"]] == [5.0, 0.0]
    tuned = tmp_path / "tuned" / "Mo_p.snap"
    out = json.loads(run(["predict", archive, "--potential", tuned, "-T", "300", "-P", "0",
                          "--json"]).output)
    assert out["phases"]["bcc"]["volume"][0][0][0] == pytest.approx(15.9, abs=1e-3)
    mixed = tmp_path / "mixed.yaml"
    mixed.write_text(cfg.read_text().replace(", P: 5,", ","))
    bad = run(["tune", mixed])
    assert bad.exit_code == 2 and "targets[0] has no P" in bad.output


def test_validate_at_pressure(archive, tmp_path):
    """G and V* against NPT + TI on the archive's 16-atom cell (short runs: loose bounds)."""
    result = run(["validate", archive, "--potential", POT, "-T", "300", "-P", "0", "--phase",
                  "bcc", "--repeats", "1", "--steps", "400", "--npt-steps", "1500",
                  "--out", tmp_path / "ti", "--json", "--no-progress"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    (row,) = report["rows"]
    assert row["solved"] and row["phase"] == "bcc" and row["P_GPa"] == 0.0
    assert abs(row["dV_rel"]) < 0.01 and abs(row["dG"]) < 5e-3
    assert set(report["summary"]["targets_met"]) == {"G", "V", "coverage"}
