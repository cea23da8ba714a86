"""``phasetune info`` and ``phasetune merge``."""

from __future__ import annotations

import json

import h5py
import pytest
from click.testing import CliRunner
from test_archive_hdf5 import METADATA, make_shell, make_volume

from phasetune.archive.hdf5 import read_archive, write_archive
from phasetune.cli.archive import commands, info, merge


@pytest.fixture
def archives(tmp_path):
    a_bcc = make_volume("bcc", 16.0, alphas=(-3.0, -2.5))
    b_bcc = make_volume("bcc", 16.0, alphas=(-2.0,))
    b_bcc.shells.append(make_shell(-2.5, seed=7, ids=(2, 3), frame_of=a_bcc.shells[1]))
    a = write_archive(tmp_path / "a.h5", [a_bcc], METADATA)
    b = write_archive(tmp_path / "b.h5", [b_bcc, make_volume("fcc", 16.5, seed=1)], METADATA)
    return a, b


def test_info_json_and_text(archives):
    a, _ = archives
    result = CliRunner().invoke(info, [str(a), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["format"] == "phasetune-ddos"
    shells = summary["phases"][0]["volumes"][0]["shells"]
    assert [s["count"] for s in shells] == [200, 200]
    text = CliRunner().invoke(info, [str(a)])
    assert text.exit_code == 0, text.output
    assert "bcc v0: V = 16.0000 Å³/atom, N = 16" in text.output
    assert "2 shells, 400 samples" in text.output
    # the made-up volumes record no reference θ: the joint correction is off
    volume = summary["phases"][0]["volumes"][0]
    assert volume["joint_correction"].startswith("off (reference θ not recorded")
    assert "joint correction: off" in text.output


def test_info_reports_corruption_and_salvages(archives):
    a, _ = archives
    with h5py.File(a, "a") as f:
        f["phases/bcc/v0/shells/0/mean"][0] += 1.0
    result = CliRunner().invoke(info, [str(a)])
    assert result.exit_code == 2
    assert "/phases/bcc/v0/shells/0/mean" in result.output and "salvage" in result.output
    salvaged = CliRunner().invoke(info, [str(a), "--salvage"])
    assert salvaged.exit_code == 0, salvaged.output
    assert "1 shells" in salvaged.output and "SALVAGED" in salvaged.output


def test_merge_command(archives, tmp_path):
    a, b = archives
    out = tmp_path / "c.h5"
    result = CliRunner().invoke(merge, [str(a), str(b), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 phase(s), 2 volume(s), 6 shell(s), 1400 samples" in result.output
    merged = read_archive(out)
    assert [s.count for s in merged.get("bcc").shells] == [200, 400, 200]
    again = CliRunner().invoke(merge, [str(a), str(b), "-o", str(out)])
    assert again.exit_code == 2 and "--force" in again.output
    forced = CliRunner().invoke(merge, [str(a), str(b), "-o", str(out), "--force", "--json"])
    assert forced.exit_code == 0 and json.loads(forced.output)["phases"][1]["phase"] == "fcc"


def test_merge_incompatible_fails_cleanly(archives, tmp_path):
    a, _ = archives
    other = write_archive(
        tmp_path / "other.h5",
        [make_volume()],
        {**METADATA, "reference_potential": {"sha256": "00" * 32}},
    )
    result = CliRunner().invoke(merge, [str(a), str(other), "-o", str(tmp_path / "c.h5")])
    assert result.exit_code == 2
    assert "reference potential differs" in result.output
    assert not (tmp_path / "c.h5").exists()


def test_commands_are_registered_in_main():
    assert [c.name for c in commands] == ["info", "merge"]
    main = pytest.importorskip("phasetune.cli.main")
    assert {"info", "merge"} <= set(main.cli.commands)
