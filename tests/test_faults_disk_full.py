"""A campaign on a disk that fills up while the workers run (a real 300 kB tmpfs, mounted when the
test runs as root with mount rights; skipped otherwise): one-line error, exit 2, the finished
chunks kept, and the same command completes the campaign once there is room."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from phasetune.atomic import TMP_SUFFIX

CAMPAIGN = """
phases:
  - {name: bcc, structure: bcc, element: Mo, cells: 2, volumes: [15.9]}
reference: {potential: "lammps:Mo_Chen_PRM2017"}
isosurfaces: {temperatures: [300, 900], count: 4}
samples: {per_isosurface: 100, chunk: 50}
seed: 3
archive: mo.h5
executor: {kind: local, workers: 2}
"""


def _mount(path: Path, size: str, remount: bool = False) -> bool:
    opts = f"remount,size={size}" if remount else f"size={size}"
    args = ["mount", "-o", opts, str(path)] if remount else \
        ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)]
    if shutil.which("mount") is None or os.geteuid() != 0:
        return False
    return subprocess.run(args, capture_output=True).returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if not _mount(disk, "300k"):
        pytest.skip("cannot mount a tmpfs here (needs root and mount rights)")
    yield disk
    subprocess.run(["umount", str(disk)], capture_output=True)


def sample(folder: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("phasetune")
    return subprocess.run([str(exe), "sample", "c.yaml", "--quiet"], cwd=folder,
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_disk_full_during_sample_then_resume(small_disk):
    (small_disk / "c.yaml").write_text(CAMPAIGN)
    full = sample(small_disk)
    assert full.returncode == 2, full.stderr
    lines = [line for line in full.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "No space left on device" in lines[0], full.stderr
    assert "Traceback" not in full.stderr and "Segmentation" not in full.stderr
    kept = list((small_disk / "mo.h5.chunks").glob("*.npz"))
    assert kept, "finished chunks were lost"
    assert not list(small_disk.rglob(f"*{TMP_SUFFIX}")), "a temporary file was left behind"
    assert _mount(small_disk, "4m", remount=True)
    done = sample(small_disk)
    assert done.returncode == 0, done.stderr
    from phasetune.archive.hdf5 import read_archive

    shells = read_archive(small_disk / "mo.h5").get("bcc").shells
    assert len(shells) == 4 and all(s.count == 100 for s in shells)


def test_read_only_folder(small_disk):
    """As root, chmod cannot make a folder read-only; a read-only mount can."""
    (small_disk / "c.yaml").write_text(CAMPAIGN)
    assert _mount(small_disk, "300k,ro", remount=True)
    result = sample(small_disk)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "read-only" in lines[0].lower(), result.stderr
