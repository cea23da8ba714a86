"""The ``doctor`` and ``harmonic`` verbs: JSON, tables, one-line errors and exit codes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from phasetune.cli.main import cli

BASE = ["harmonic", "--potential", "lammps:Mo_Chen_PRM2017", "-T", "300", "1000", "2000"]


def run(args):
    return CliRunner().invoke(cli, args)


def test_doctor_json():
    result = run(["doctor", "--json"])
    payload = json.loads(result.output)
    names = {c["name"] for c in payload["checks"]}
    assert {"python", "lammps", "lammps packages", "mpi library", "shipped potentials"} <= names
    assert payload["ok"] == (result.exit_code == 0)
    assert payload["ok"], payload


def test_harmonic_json_matches_api(mo):
    from phasetune.harmonic.analysis import harmonic_analysis
    from phasetune.structures.crystals import crystal

    result = run(BASE + ["--structure", "bcc", "--element", "Mo", "--volume", "15.9",
                         "--cells", "2", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["convention"]["modes"] == "3N"
    assert [row["T"] for row in payload["temperatures"]] == [300.0, 1000.0, 2000.0]
    api = harmonic_analysis(crystal("bcc", "Mo", volume=15.9, cells=2), mo, [300, 1000, 2000])
    assert [row["F_harmonic"] for row in payload["temperatures"]] == pytest.approx(
        api.F_harmonic.tolist(), rel=1e-12)
    assert payload["E0"] == pytest.approx(api.E0, rel=1e-12)


def test_harmonic_table_and_plot(tmp_path):
    png = tmp_path / "f.png"
    result = run(BASE + ["--structure", "bcc", "--volume", "15.9", "--cells", "2", "2", "2",
                         "--modes", "3N-3", "--plot", str(png)])
    assert result.exit_code == 0, result.output
    assert "F_harmonic" in result.output and "3N-3" in result.output
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("extra,message", [
    (["--structure", "bct", "--volume", "15.9", "--cells", "2"], "unknown structure 'bct'"),
    (["--structure", "bcc", "--volume", "0", "--cells", "2"], "volume must be positive"),
    (["--structure", "bcc", "--volume", "15.9", "--cells", "1"], "--cells 2 2 2"),
    (["--structure", "bcc", "--element", "W", "--volume", "15.9", "--cells", "2"],
     "is for Mo, but the structure contains W"),
    (["--structure", "fcc", "--volume", "16", "--cells", "2"], "dynamically unstable"),
])
def test_bad_input_is_one_line_error(extra, message):
    result = run(BASE + extra)
    assert result.exit_code == 2
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in result.output


def test_debug_shows_traceback():
    result = run(["--debug"] + BASE + ["--structure", "bct", "--volume", "15.9"])
    assert result.exit_code != 0 and result.exception is not None
