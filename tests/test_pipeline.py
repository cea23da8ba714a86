"""The whole pipeline on a tiny campaign phasetune samples itself (16-atom BCC and 8-atom A15 Mo):
sample → predict → phases → tune → tuned potential in LAMMPS → posterior."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from phasetune.cli.main import cli

CAMPAIGN = """
phases:
  - {name: bcc, structure: bcc, element: Mo, cells: 2, volumes: [15.9]}
  - {name: a15, structure: a15, element: Mo, cells: 1, volumes: [15.9]}
reference: {potential: "lammps:Mo_Chen_PRM2017"}
isosurfaces: {temperatures: [300, 1200], count: 6}
samples: {per_isosurface: 300, chunk: 100, pilot: 200}
seed: 7
archive: mo.h5
executor: {kind: local, workers: 1}
"""


def run(args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    d = tmp_path_factory.mktemp("pipeline")
    (d / "campaign.yaml").write_text(CAMPAIGN)
    result = run(["sample", d / "campaign.yaml", "--quiet"])
    assert result.exit_code == 0, result.output
    return d / "mo.h5"


def test_predict_low_temperature_is_harmonic(archive):
    from phasetune.archive.hdf5 import read_archive
    from phasetune.model.harmonic import harmonic_free_energy

    out = json.loads(run(["predict", archive, "--potential", "lammps:Mo_Chen_PRM2017", "-T",
                          "300", "--json"]).output)
    ref = read_archive(archive).get("bcc").reference
    f_h = ref.E0 + harmonic_free_energy(ref.omega, ref.mass, 300.0, 3.0)
    bcc = out["phases"]["bcc"]
    assert bcc["solved"][0][0]
    assert abs(bcc["F_total"][0][0] - f_h) < 1e-3  # anharmonicity at 300 K is sub-meV


def test_tune_then_posterior(archive, tmp_path):
    cfg = tmp_path / "tune.yaml"
    cfg.write_text(f"archives: [{archive}]\npotential: lammps:Mo_Chen_PRM2017\n"
                   "targets:\n  - delta_F: {a: a15, b: bcc, T: 600, shift_meV: -5}\n"
                   "regulariser: {kind: gram, n_per_phase: 2}\noutput: tuned\nname: Mo_t\n")
    result = run(["tune", cfg, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["converged"] and report["training"]["rmse_energy_after_eV_per_atom"] > 0
    snap = tmp_path / "tuned" / "Mo_t.snap"
    provenance = report["provenance"]
    assert provenance["source_potential"] == "lammps:Mo_Chen_PRM2017"
    assert provenance["archives"] == [str(archive)] and len(provenance["source_sha256"]) == 64
    header = (tmp_path / "tuned" / "Mo_t.snapcoeff").read_text().split("\n1 31\n")[0]
    assert header.startswith("# Modified by phasetune") and provenance["source_sha256"] in header
    before = json.loads(run(["predict", archive, "--potential", "lammps:Mo_Chen_PRM2017", "-T",
                             "600", "--json"]).output)["phases"]
    after = json.loads(run(["predict", archive, "--potential", snap, "-T", "600",
                            "--json"]).output)["phases"]

    def delta(p):
        return p["a15"]["F_total"][0][0] - p["bcc"]["F_total"][0][0]

    assert delta(after) - delta(before) == pytest.approx(-0.005, abs=1e-4)
    # the written potential runs in LAMMPS
    h = run(["harmonic", "--structure", "bcc", "--volume", "15.9", "--cells", "2",
             "--potential", snap, "-T", "300", "--json"])
    assert h.exit_code == 0, h.output
    post = run(["posterior", archive, "--potential", "lammps:Mo_Chen_PRM2017", "--labels",
                "lammps:Mo_Zuo_JPCA2020", "--low", "bcc", "--high", "a15", "--at", "600",
                "--generate", "2", "--samples", "300", "-T", "300", "1000", "--json"])
    assert post.exit_code == 0, post.output
    d = json.loads(post.output)["delta_F"]
    assert d["std_sampled_eV"] == pytest.approx(d["std_linearised_eV"], rel=0.3)
    assert np.isfinite(d["at_mean_eV"])


def test_validate_against_ti(archive, tmp_path):
    """``phasetune validate`` on the tiny archive: TI of θ0 and one perturbed θ on the archive's
    own cells agrees with D-DOS at 400 K; a rerun is served from the cached results."""
    args = ["validate", archive, "--potential", "lammps:Mo_Chen_PRM2017", "-T", "400",
            "--thetas", "1", "--steps", "300", "--theta-steps", "300", "--out", tmp_path / "ti",
            "--plot", tmp_path / "v.png", "--markdown", tmp_path / "v.md", "--json",
            "--no-progress"]
    result = run(args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    rows = report["comparison"]["rows"]
    assert {(r["phase"], r["model"]) for r in rows} == {
        ("bcc", "θ0"), ("bcc", "θ1"), ("a15", "θ0"), ("a15", "θ1")}
    for r in rows:
        assert r["solved"], r
        assert abs(r["deviation"]) < 3e-3, r  # tiny archive and short TI: a few meV at most
        assert r["sigma_TI"] > 0
    assert len(report["comparison"]["differences"]) == 2
    assert report["cost"]["break_even_models"] > 0
    assert (tmp_path / "v.png").stat().st_size > 0
    assert "| bcc | 400 | θ0 |" in (tmp_path / "v.md").read_text()
    again = json.loads(run(args).output)
    assert again["comparison"]["rows"] == rows


def test_validate_refuses_a_non_linear_potential(archive):
    result = run(["validate", archive, "--potential", "lammps:Fe_mm.eam.fs", "-T", "400"])
    assert result.exit_code == 2
    assert "not a linear" in result.output


def test_validate_report_only_lists_pending_runs(archive, tmp_path):
    from phasetune.potentials.registry import load_potential
    from phasetune.validation.api import validate

    report = validate(archive, load_potential("lammps:Mo_Chen_PRM2017"), [400.0], n_thetas=1,
                      out=tmp_path / "none", run=False, progress=False)
    assert report.pending == [{"phase": "bcc", "T": 400.0}, {"phase": "a15", "T": 400.0}]
    assert report.comparison.rows == [] and not report.comparison.summary["absolute"]["solved"]
    assert not list((tmp_path / "none").glob("*.ckpt.json"))  # nothing was run
