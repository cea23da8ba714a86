"""phasetune basin: the temperature at which a crystal leaves its basin in MD, recorded beside
the archive, and predict refusing that temperature (issue 14, bad input)."""

from __future__ import annotations

import json

import numpy as np
import yaml
from click.testing import CliRunner

from phasetune.cli.main import cli
from phasetune.estimator.ddos import DDOSEstimator
from phasetune.estimator.prediction import LEFT_BASIN
from phasetune.structures.crystals import crystal
from phasetune.testsystems import gaussian_system
from phasetune.ti import harmonic_reference
from phasetune.ti.basin_scan import (
    basin_scan,
    potential_sha256,
    read_records,
    refuse_left_basin,
    write_record,
)


def test_scan_stops_where_the_crystal_melts(mo):
    """16-atom BCC Mo: in its basin at 300 K, melted at 8000 K (≈ 3 T_m); never runs past it."""
    atoms = crystal("bcc", "Mo", volume=15.9, cells=2)
    ref = harmonic_reference(atoms, mo)
    scan = basin_scan(atoms, ref, mo, [8000.0, 300.0, 9000.0], phase="bcc", steps=600)
    assert scan.temperatures == [300.0, 8000.0] and scan.left_at == 8000.0
    assert "left its basin" in scan.message and "8000 K" in scan.message
    assert scan.diagnostics["300"]["lindemann_ratio"] < 0.1
    assert scan.potential_sha256 == potential_sha256(mo) and len(scan.potential_sha256) == 64


def test_record_round_trip_and_refusal(tmp_path):
    system = gaussian_system(n_samples=400)
    est = DDOSEstimator(system.phase_volume, system.conventions)
    temps = np.array([400.0, 700.0, 1000.0])
    pred = est.predict(system.theta_ref * np.array([[1.0], [1.01]]), temps)
    assert pred.solved.all()
    archive = tmp_path / "a.h5"
    scan = {"phase": "bcc", "potential": "p", "potential_sha256": "abc", "temperatures": [700.0],
            "left_at": 700.0, "message": "quenched to fcc 14, other 2", "steps": 100,
            "diagnostics": {}}

    class Scan:
        phase, potential_sha256 = "bcc", "abc"

        def to_dict(self):
            return scan

    write_record(archive, Scan())
    assert read_records(archive) == {"bcc": {"abc": scan}}
    refuse_left_basin(pred, scan)
    assert pred.solved[0].all() and not pred.solved[1:].any()
    assert np.all(pred.status[1:] & LEFT_BASIN) and np.isnan(pred.F_total[1:]).all()
    assert np.isfinite(pred.F_total[0]).all()
    reason = pred.reasons(2, 0)
    assert any("left its basin at 700 K" in r and "fcc 14" in r for r in reason)
    (tmp_path / "a.h5.basin.json").write_text("{broken")
    try:
        read_records(archive)
    except Exception as exc:  # noqa: BLE001 - the one-line ArchiveError
        assert "basin record" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("a broken record must be refused")


def test_cli_basin_then_predict_refuses(tmp_path, mo):
    spec = {"phases": [{"name": "bcc", "structure": "bcc", "element": "Mo", "cells": 2,
                        "volumes": [15.9]}],
            "reference": {"potential": "lammps:Mo_Chen_PRM2017"},
            "isosurfaces": {"temperatures": [300, 1200], "count": 6},
            "samples": {"per_isosurface": 200, "chunk": 100}, "seed": 3, "archive": "t.h5",
            "executor": {"kind": "local", "workers": 1}}
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(spec))
    runner = CliRunner()
    assert runner.invoke(cli, ["sample", str(path), "--quiet"]).exit_code == 0
    archive = str(tmp_path / "t.h5")
    out = runner.invoke(cli, ["basin", archive, "--potential", "lammps:Mo_Chen_PRM2017",
                              "-T", "300", "8000", "--steps", "600", "--json"])
    assert out.exit_code == 0, out.output
    scans = json.loads(out.output)["scans"]
    assert scans["bcc"]["left_at"] == 8000.0
    pred = runner.invoke(cli, ["predict", archive, "--potential", "lammps:Mo_Chen_PRM2017",
                               "-T", "600", "8000", "--no-range"])
    assert pred.exit_code == 0, pred.output
    assert "left its basin at 8000 K" in pred.output
    lines = [x for x in pred.output.splitlines() if x.strip().startswith("8000.0")]
    assert lines and "nan" in lines[0] and "NO" in lines[0]
