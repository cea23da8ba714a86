"""Kill a running `phasetune sample` with SIGKILL, re-run it, and check nothing is lost or
counted twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import yaml
from test_campaign_runner import assert_same_shells

from phasetune.archive.hdf5 import read_archive
from phasetune.campaign.runner import run_campaign
from phasetune.campaign.spec import load_campaign
from phasetune.campaign.spool import spool_dir

CLI = [sys.executable, "-c", "from phasetune.cli.main import main; main()", "sample"]


def _campaign(tmp_path, name):
    data = {
        "phases": [{"name": "bcc", "structure": "bcc", "element": "Mo", "cells": 2,
                    "volumes": [15.9]}],
        "reference": {"potential": "lammps:Mo_Chen_PRM2017"},
        "isosurfaces": {"temperatures": [500, 2000], "count": 3},
        "samples": {"per_isosurface": 300, "chunk": 10, "pilot": 50},
        "seed": 5,
        "archive": f"{name}.h5",
        "commit_interval": 0.5,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_kill_and_resume(tmp_path):
    path = _campaign(tmp_path, "killed")
    archive, chunks = tmp_path / "killed.h5", spool_dir(tmp_path / "killed.h5")
    proc = subprocess.Popen([*CLI, str(path), "--workers", "1", "--quiet"],
                            start_new_session=True, env=dict(os.environ))
    deadline = time.time() + 60
    committed = False
    while time.time() < deadline and proc.poll() is None:
        log = archive.with_suffix(".log")
        text = log.read_text() if log.exists() else ""
        committed = text.count("committed") >= 2  # a commit with folded chunks
        if committed and len(list(chunks.glob("*.npz"))) >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "campaign finished before it could be killed; make it longer"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert committed
    partial = read_archive(archive)
    done_before = sum(s.count for s in partial.phase_volumes[0].shells) // 10
    spooled = len(list(chunks.glob("*.npz")))
    assert 0 < done_before < 90 and spooled >= 3

    out = subprocess.run([*CLI, str(path), "--workers", "1", "--json"], capture_output=True,
                         text=True, env=dict(os.environ), timeout=120)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["complete"]
    assert report["chunks_run"] + report["chunks_skipped"] == 90
    assert report["chunks_skipped"] >= done_before + spooled  # spooled chunks are not re-run
    final = read_archive(archive)
    for shell in final.phase_volumes[0].shells:
        assert shell.count == 300
        assert sorted(shell.batch_ids.tolist()) == list(range(30))
    assert not chunks.exists()
    # and identical to an uninterrupted run
    clean = load_campaign(_campaign(tmp_path, "clean"))
    run_campaign(clean, workers=1, quiet=True)
    assert_same_shells(final, read_archive(clean.archive_path))
