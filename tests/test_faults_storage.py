"""Fault injection on the storage layer (issue: every failure a one-line error, nothing lost):
damaged HDF5 metadata, disk full and file-size limits during writes, edited or unwritable fit
files.  Each case asserts the error type or exit status 2, the message, and that the previous file
is unchanged."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_archive_hdf5 import METADATA, make_volume

from phasetune.archive.fits import fit_path, read_fit, write_fit
from phasetune.archive.hdf5 import read_archive, write_archive
from phasetune.atomic import atomic_write, write_bytes
from phasetune.cli.main import cli
from phasetune.errors import ArchiveError, StorageError
from phasetune.estimator.store import fitted


@pytest.fixture
def archive(tmp_path) -> Path:
    return write_archive(tmp_path / "a.h5", [make_volume()], METADATA)


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("offset", [600, 1000])
def test_damaged_hdf5_metadata_is_a_one_line_error(archive, offset):
    _flip(archive, offset)
    with pytest.raises(ArchiveError) as info:
        read_archive(archive)
    assert "\n" not in str(info.value)
    result = CliRunner().invoke(cli, ["info", str(archive)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "phasetune: error:" in result.output


def test_disk_full_during_an_atomic_write_keeps_the_previous_file(tmp_path, monkeypatch):
    target = write_bytes(tmp_path / "f.bin", b"previous")

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(StorageError, match="No space left on device.*previous file") as info:
        write_bytes(target, b"new")
    assert "free disk space" in info.value.hint
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]  # no temporary file left


def test_an_interrupted_write_leaves_nothing_behind(tmp_path):
    target = write_bytes(tmp_path / "f.bin", b"previous")
    with pytest.raises(KeyboardInterrupt), atomic_write(target) as tmp:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_new_files_get_the_usual_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        path = write_bytes(tmp_path / "f.bin", b"x")
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644


def test_file_size_limit_during_an_archive_write_is_a_one_line_error(archive, tmp_path):
    """A real kernel refusal (RLIMIT_FSIZE) while rewriting an archive: exit 2, archive intact."""
    before = archive.read_bytes()
    script = textwrap.dedent(f"""
        import resource, signal, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))
        from test_archive_hdf5 import METADATA, make_volume
        from phasetune.archive.hdf5 import write_archive
        from phasetune.errors import StorageError
        try:
            write_archive({str(archive)!r}, [make_volume(alphas=(-3.0, -2.8, -2.6, -2.4, -2.2,
                          -2.0, -1.8))], METADATA)
        except StorageError as exc:
            print(exc)
            sys.exit(2)
        """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 2, out.stderr
    assert out.stdout.startswith(f"cannot write {archive}") and "ulimit" in out.stdout
    assert archive.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.h5"]


def test_an_edited_fit_file_is_refitted_not_used(archive):
    pv = read_archive(archive).get("bcc")
    first = fitted(archive, "bcc", 0, pv, degree=2)
    assert first.refitted and first.stored and first.note is None
    assert not fitted(archive, "bcc", 0, pv, degree=2).refitted  # up to date, verified
    import h5py

    with h5py.File(fit_path(archive), "r+") as h5:  # a hand edit that keeps valid JSON
        text = h5["bcc/v0"][()].decode().replace('"version"', ' "version"', 1)
        checksum = h5["bcc/v0"].attrs["sha256"]
        del h5["bcc/v0"]
        h5["bcc/v0"] = text.encode()
        h5["bcc/v0"].attrs["sha256"] = checksum
    assert "does not match its checksum" in read_fit(archive, "bcc", 0).problem
    again = fitted(archive, "bcc", 0, pv, degree=2)
    assert again.refitted and again.stored and "checksum" in again.note
    assert read_fit(archive, "bcc", 0).problem is None  # the refit replaced the edited entry


def test_a_fit_that_cannot_be_stored_is_reported(archive, monkeypatch):
    import phasetune.estimator.store as store

    def refuse(*_args, **_kwargs):
        raise StorageError(f"cannot write {fit_path(archive)}: Read-only file system")

    monkeypatch.setattr(store, "write_fit", refuse)
    result = CliRunner().invoke(cli, ["fit", str(archive), "--degree", "2"])
    assert result.exit_code == 0
    assert "NOT stored" in result.output and "fits stored in" not in result.output
    assert not fit_path(archive).exists()
    payload = CliRunner().invoke(cli, ["fit", str(archive), "--degree", "2", "--json"]).output
    assert '"stored": false' in payload


def test_fit_files_keep_other_entries_and_verify_them(archive):
    write_fit(archive, "bcc", 0, {"a": 1.0}, version=1)
    write_fit(archive, "fcc", 0, {"b": float("nan")}, version=1)
    assert read_fit(archive, "bcc", 0).data == '{"a": 1.0}'
    assert read_fit(archive, "fcc", 0).data == '{"b": NaN}'  # NaN survives the round trip


def test_info_reports_checksums_and_chunks_waiting_in_the_spool(archive):
    runner = CliRunner()
    out = runner.invoke(cli, ["info", str(archive)])
    assert out.exit_code == 0 and "checksums: verified" in out.output
    assert "pending" not in out.output
    spool = archive.with_name(archive.name + ".chunks")
    spool.mkdir()
    (spool / "bcc__V16.000000__a-3.0000000000__c000001.npz").write_bytes(b"x")
    out = runner.invoke(cli, ["info", str(archive)])
    assert "pending: 1 finished chunk(s)" in out.output and "phasetune sample" in out.output
    archive.unlink()
    out = runner.invoke(cli, ["info", str(archive)])
    assert out.exit_code == 2 and "1 finished chunk(s) wait in" in out.output
