"""The solved range through the CLI on tiny campaigns phasetune samples itself (16-atom BCC and
8-atom A15 Mo, Mo_Chen_PRM2017): `sample --t-max` appends shells, `info` and `predict` report
the range, and a phase that more shells cannot help is a one-line error."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from phasetune.archive.hdf5 import read_archive
from phasetune.cli.main import cli

POT = "lammps:Mo_Chen_PRM2017"


def run(args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def write_campaign(directory, phase, temperatures, archive="t.h5", **extra):
    data = {"phases": [phase], "reference": {"potential": POT},
            "isosurfaces": {"temperatures": list(temperatures), "spacing": 0.2},
            "samples": {"per_isosurface": 200, "chunk": 100}, "seed": 5, "archive": archive,
            "executor": {"kind": "local", "workers": 1}, **extra}
    path = directory / f"{archive}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


BCC = {"name": "bcc", "structure": "bcc", "element": "Mo", "cells": 2, "volumes": [15.9]}
A15 = {"name": "a15", "structure": "a15", "element": "Mo", "cells": 1, "volumes": [15.9]}


def archive_conventions():
    from phasetune.conventions import Conventions

    return Conventions()


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    """A BCC campaign for 300–600 K, sampled, then copied before `--t-max 1200`."""
    d = tmp_path_factory.mktemp("range")
    path = write_campaign(d, BCC, (300, 600))
    first = run(["sample", path, "--quiet"])
    assert first.exit_code == 0, first.output
    shutil.copy(d / "t.h5", d / "plain.h5")  # no fit beside it
    before = read_archive(d / "t.h5").get("bcc")
    result = run(["sample", path, "--t-max", 1200, "--json"])
    assert result.exit_code == 0, result.output
    return d, path, before, json.loads(result.output)


def test_t_max_appends_shells_and_keeps_the_old_ones(campaign):
    d, path, before, out = campaign
    assert out["solved"] and out["complete"] and out["t_max"] == 1200.0
    assert [r["extended_to"] for r in out["rounds"]] == [{}, {"bcc": 1200.0}]
    (check,) = out["checks"]
    assert check["solved_at_t_max"]
    assert check["solved_range"]["intervals"][0][-1]["high"]["kind"] == "window"
    archive = read_archive(d / "t.h5")
    after = archive.get("bcc")
    n = len(before.shells)
    assert len(after.shells) > n
    for old, new in zip(before.shells, after.shells[:n], strict=True):  # kept as they were
        assert old.alpha == new.alpha and old.count == new.count
        assert np.array_equal(old.mean, new.mean) and np.array_equal(old.cov, new.cov)
    alphas = after.alphas
    assert np.allclose(alphas / 0.2, np.round(alphas / 0.2), atol=1e-9)  # the same lattice
    assert np.allclose(np.diff(alphas), 0.2)
    t_top = after.reference.shell_temperature(alphas[-1], archive_conventions())
    assert t_top >= 1.5 * 1200.0
    assert archive.metadata["sampler"]["extended_to"] == {"bcc": 1200.0}
    # the YAML alone, run again, keeps the extension (nothing to sample) and says so
    again = run(["sample", path])
    assert again.exit_code == 0, again.output
    assert "0 samples" in again.output and "extended to α_H(cover × 1200 K)" in again.output
    assert len(read_archive(d / "t.h5").get("bcc").shells) == len(after.shells)


def test_info_reports_the_solved_range(campaign):
    d, *_ = campaign
    text = run(["info", d / "t.h5"])
    assert text.exit_code == 0, text.output
    assert "solved range of Mo_Chen_PRM2017 (the archive's reference potential" in text.output
    assert "shells extended by `sample --t-max`" in text.output and "bcc to 1200 K" in text.output
    line = next(x for x in text.output.splitlines() if x.startswith("  bcc v0"))
    assert "solved" in line
    payload = json.loads(run(["info", d / "t.h5", "--json"]).output)
    ranges = payload["solved_range"]
    assert ranges["available"] and ranges["potential"] == "Mo_Chen_PRM2017"
    (volume,) = ranges["phases"]["bcc"]
    (iv,) = volume["intervals"][0]
    assert iv["T_lo"] < 300.0 and iv["T_hi"] > 1200.0
    assert iv["low"]["kind"] == "alpha_below_grid" and iv["high"]["kind"] == "alpha_above_grid"
    # the same from an explicit potential; --no-range leaves it out
    explicit = json.loads(run(["info", d / "t.h5", "--json", "--potential", POT]).output)
    assert explicit["solved_range"]["phases"] == ranges["phases"]
    assert "solved_range" not in json.loads(run(["info", d / "t.h5", "--json",
                                                 "--no-range"]).output)


def test_info_without_fits_says_how_to_get_them(campaign):
    d, *_ = campaign
    result = run(["info", d / "plain.h5"])
    assert result.exit_code == 0, result.output
    assert "solved range of Mo_Chen_PRM2017: not shown" in result.output
    assert f"run `phasetune fit {d / 'plain.h5'}`" in result.output
    assert not (d / "plain.fit.h5").exists()  # info never fits


def test_predict_reports_the_range_beside_the_values(campaign, tmp_path):
    d, *_ = campaign
    result = run(["predict", d / "t.h5", "--potential", POT, "-T", 500, 1000])
    assert result.exit_code == 0, result.output
    assert "solved " in result.output and "(below: alpha* below the grid; above: alpha* above " \
        "the grid)" in result.output
    payload = json.loads(run(["predict", d / "t.h5", "--potential", POT, "-T", 500, 1000,
                              "--json"]).output)
    bcc = payload["phases"]["bcc"]
    (iv,) = bcc["solved_range"]["intervals"][0]
    assert iv["T_lo"] < 500.0 < 1000.0 < iv["T_hi"] and bcc["fraction_solved"] == [1.0, 1.0]
    # an ensemble: the common range and the fraction solved at each T
    from phasetune.potentials.registry import load_potential

    theta = load_potential(POT).theta
    np.save(tmp_path / "th.npy", np.stack([theta, theta * 1.001, theta * 0.999]))
    ens = run(["predict", d / "t.h5", "--potential", POT, "--theta-file", tmp_path / "th.npy",
               "-T", 500, 1000])
    assert ens.exit_code == 0, ens.output
    assert "solved range over 3 models: common" in ens.output
    assert "models solved: 500 K 100 %, 1000 K 100 %" in ens.output


def test_t_max_refuses_when_shells_cannot_help(tmp_path):
    """Without raw descriptors (product of marginals only) 8-atom A15 Mo loses its interior
    saddle near 1300 K: the first round appends shells, the second check sees α* jump to the
    top shell, and the run stops with one line (exit 2)."""
    path = write_campaign(tmp_path, A15, (300, 1500), store_raw=False)
    result = run(["sample", path, "--t-max", 2000, "--quiet"])
    assert result.exit_code == 2
    (line,) = [x for x in result.stderr.splitlines() if x.strip()]
    assert line.startswith("phasetune: error: --t-max 2000 K: a15 v0: θ0 (Mo_Chen_PRM2017) is "
                           "solved only up to")
    assert "no interior saddle" in line and "more shells do not help" in line
    assert "issue 14" in line and "Traceback" not in result.output
    # the extension that was tried is kept (recorded, so later runs keep its shells)
    assert read_archive(tmp_path / "t.h5").metadata["sampler"]["extended_to"] == {"a15": 2000.0}
    usage = run(["sample", path, "--phase", "a15"])
    assert usage.exit_code == 2 and "go with --t-max" in usage.output


def test_t_max_reaches_the_target_with_the_joint_correction(tmp_path):
    """The same A15 campaign with raw descriptors (the default): the joint correction keeps
    an interior saddle, and θ0 is solved at 2000 K after the extension."""
    path = write_campaign(tmp_path, A15, (300, 1500))
    result = run(["sample", path, "--t-max", 2000, "--quiet", "--json"])
    assert result.exit_code == 0, result.output
    assert read_archive(tmp_path / "t.h5").metadata["sampler"]["extended_to"] == {"a15": 2000.0}

