"""Campaign runs: determinism across worker counts, appending, failing chunks, corruption."""

from __future__ import annotations

from dataclasses import fields

import h5py
import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from phasetune.archive.hdf5 import read_archive
from phasetune.campaign import runner as runner_module
from phasetune.campaign.runner import run_campaign
from phasetune.campaign.spec import load_campaign
from phasetune.campaign.spool import spool_dir
from phasetune.errors import ArchiveError
from phasetune.estimator.ddos import DDOSEstimator
from phasetune.model import ShellStats
from phasetune.potentials.registry import load_potential


def write_campaign(directory, archive="mo.h5", per_isosurface=40, count=3, volumes=(15.9,),
                   **extra):
    data = {
        "phases": [{"name": "bcc", "structure": "bcc", "element": "Mo", "cells": 2,
                    "volumes": list(volumes)}],
        "reference": {"potential": "lammps:Mo_Chen_PRM2017"},
        "isosurfaces": {"temperatures": [500, 2000], "count": count},
        "samples": {"per_isosurface": per_isosurface, "chunk": 10, "pilot": 20},
        "seed": 11,
        "archive": archive,
        **extra,
    }
    path = directory / f"{archive}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def assert_same_shells(a, b):
    assert len(a.phase_volumes) == len(b.phase_volumes)
    for pa, pb in zip(a.phase_volumes, b.phase_volumes, strict=True):
        assert len(pa.shells) == len(pb.shells)
        for sa, sb in zip(pa.shells, pb.shells, strict=True):
            for f in fields(ShellStats):
                x, y = getattr(sa, f.name), getattr(sb, f.name)
                if x is not None or y is not None:
                    assert np.array_equal(np.asarray(x), np.asarray(y), equal_nan=True), f.name


def test_one_and_two_workers_give_identical_archives(tmp_path):
    one = load_campaign(write_campaign(tmp_path, "one.h5"))
    two = load_campaign(write_campaign(tmp_path, "two.h5"))
    r1 = run_campaign(one, workers=1, quiet=True)
    r2 = run_campaign(two, executor="local", workers=2, quiet=True)
    assert r1.complete and r2.complete
    a, b = read_archive(one.archive_path), read_archive(two.archive_path)
    assert_same_shells(a, b)
    shells = a.phase_volumes[0].shells
    assert [s.count for s in shells] == [40, 40, 40]
    assert all(s.batch_ids.tolist() == [0, 1, 2, 3] for s in shells)
    assert not spool_dir(one.archive_path).exists()
    assert one.archive_path.with_suffix(".log").is_file()
    meta = a.metadata
    assert meta["sampler"]["flavour"] == "hessian" and meta["sampler"]["seed"] == 11
    assert meta["descriptor"]["sha256"] and meta["reference_potential"]["sha256"]
    assert meta["provenance"]["lammps_version"]
    assert meta["provenance"]["this_run"]["worker_cpu_s"] > 0
    # raw descriptors and the reference θ are kept by default: the joint correction is on
    pv = a.phase_volumes[0]
    assert all(s.raw is not None and s.raw.shape == (40, 30) for s in shells)
    theta = load_potential("lammps:Mo_Chen_PRM2017").theta
    assert np.allclose(pv.provenance["reference_theta"], theta)
    assert DDOSEstimator(pv).joint_reference is not None


def test_dask_scheduler_gives_the_same_archive(tmp_path):
    """A real Dask scheduler (a local cluster of worker processes, reached by its address as
    ``--executor dask --scheduler ADDRESS`` does) gives the archive of a local run."""
    distributed = pytest.importorskip("distributed")
    local = load_campaign(write_campaign(tmp_path, "local.h5", per_isosurface=20, count=2))
    remote = load_campaign(write_campaign(tmp_path, "dask.h5", per_isosurface=20, count=2))
    assert run_campaign(local, workers=1, quiet=True).complete
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        result = run_campaign(remote, executor="dask", scheduler=cluster.scheduler_address,
                              quiet=True)
    assert result.complete
    assert_same_shells(read_archive(local.archive_path), read_archive(remote.archive_path))


def test_appending_samples_and_volumes_keeps_what_exists(tmp_path):
    first = load_campaign(write_campaign(tmp_path, "app.h5", per_isosurface=20))
    run_campaign(first, workers=1, quiet=True)
    before = read_archive(first.archive_path)
    more = load_campaign(write_campaign(tmp_path, "app.h5", per_isosurface=40,
                                        volumes=(15.9, 16.3)))
    result = run_campaign(more, workers=1, quiet=True)
    assert result.complete and result.chunks_skipped == 6
    after = read_archive(more.archive_path)
    assert len(after.phase_volumes) == 2
    old, new = before.phase_volumes[0], after.get("bcc", 0)
    assert np.array_equal(old.reference.positions, new.reference.positions)
    for s_old, s_new in zip(old.shells, new.shells, strict=True):
        assert s_new.count == 40 and s_new.batch_ids.tolist() == [0, 1, 2, 3]
        assert np.array_equal(s_old.power_sums, s_new.power_sums[:2])
    # same result as sampling 40 at once
    fresh = load_campaign(write_campaign(tmp_path, "fresh.h5", per_isosurface=40))
    run_campaign(fresh, workers=1, quiet=True)
    assert_same_shells(read_archive(fresh.archive_path),
                       type(after)(after.metadata, [new], None))


def test_failing_chunk_is_retried_once_then_reported(tmp_path, monkeypatch):
    path = write_campaign(tmp_path, "fail.h5")
    calls = []
    real = runner_module.run_chunk

    def flaky(task, payload):
        calls.append((task.shell, task.chunk))
        if task.shell == 1 and task.chunk == 2:
            return runner_module.ChunkResult(task, None, "EngineError: injected LAMMPS failure")
        return real(task, payload)

    monkeypatch.setattr(runner_module, "run_chunk", flaky)
    result = CliRunner().invoke(__import__("phasetune.cli.main", fromlist=["cli"]).cli,
                                ["sample", str(path), "--workers", "1", "--json"])
    assert result.exit_code == 3, result.output
    assert calls.count((1, 2)) == 2  # retried once
    assert len(calls) == 12 + 1
    import json

    report = json.loads(result.output)
    (failure,) = report["failures"]
    assert failure["isosurface"] == 1 and failure["chunk"] == 2
    assert failure["phase"] == "bcc" and len(failure["seed"]) == 5
    assert "injected LAMMPS failure" in failure["message"]
    archive = read_archive(tmp_path / "fail.h5")
    counts = [s.count for s in archive.phase_volumes[0].shells]
    assert counts == [40, 20, 40]  # chunk 3 of shell 1 waits in the spool behind chunk 2
    assert len(list(spool_dir(tmp_path / "fail.h5").glob("*.npz"))) == 1
    # the next run samples only the failed chunk and completes the shell
    monkeypatch.setattr(runner_module, "run_chunk", real)
    final = run_campaign(load_campaign(path), workers=1, quiet=True)
    assert final.complete and final.chunks_run == 1
    assert [s.count for s in read_archive(tmp_path / "fail.h5").phase_volumes[0].shells] \
        == [40, 40, 40]


def test_corrupted_or_truncated_archive_is_detected(tmp_path):
    spec = load_campaign(write_campaign(tmp_path, "bad.h5", per_isosurface=20, count=2))
    run_campaign(spec, workers=1, quiet=True)
    with h5py.File(spec.archive_path, "r+") as f:
        ds = f["phases/bcc/v0/shells/1/hist_counts"]
        data = ds[()]
        data[0, 100] += 1
        ds[...] = data
    with pytest.raises(ArchiveError, match="corrupted") as info:
        run_campaign(spec, workers=1, quiet=True)
    assert "shells intact ['0']" in str(info.value) and "lost ['1']" in str(info.value)
    raw = spec.archive_path.read_bytes()
    spec.archive_path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ArchiveError):
        run_campaign(spec, workers=1, quiet=True)


def test_kinetic_campaign_records_kinetic_energy_component(tmp_path):
    spec = load_campaign(write_campaign(
        tmp_path, "kin.h5", per_isosurface=10, count=2, flavour="kinetic",
        kinetic={"timestep": 0.001, "stride": 5, "equilibration": 10}))
    assert run_campaign(spec, workers=1, quiet=True).complete
    archive = read_archive(spec.archive_path)
    pv = archive.phase_volumes[0]
    assert pv.flavour == "kinetic" and archive.metadata["sampler"]["flavour"] == "kinetic"
    assert pv.descriptors.labels[-1] == "K/N" and pv.descriptors.fixed[-1]
    assert pv.reference.D0[-1] == 0.0
    for shell in pv.shells:
        epsilon = pv.reference.omega_bar * np.exp(shell.alpha)
        assert shell.energy_mean + shell.mean[-1] == pytest.approx(epsilon, rel=1e-3)


def test_missing_executor_package_is_a_clear_error(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name.startswith("distributed"):
            raise ImportError("no distributed")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    spec = load_campaign(write_campaign(tmp_path, "dask.h5"))
    with pytest.raises(Exception, match=r"phasetune\[dask\]"):
        run_campaign(spec, executor="dask", quiet=True)
    assert not spec.archive_path.exists()


def crashing_chunk(task, payload):
    """Worker function that kills its process once (marker file from the environment)."""
    import os
    from pathlib import Path

    from phasetune.campaign.tasks import run_chunk

    marker = Path(os.environ["PT_CRASH_MARKER"])
    if task.shell == 1 and task.chunk == 1 and not marker.exists():
        marker.touch()
        os._exit(1)
    return run_chunk(task, payload)


def test_crashed_worker_is_replaced_and_nothing_is_lost(tmp_path, monkeypatch):
    monkeypatch.setenv("PT_CRASH_MARKER", str(tmp_path / "crashed"))
    monkeypatch.setattr(runner_module, "run_chunk", crashing_chunk)
    spec = load_campaign(write_campaign(tmp_path, "crash.h5", per_isosurface=30, count=2))
    result = run_campaign(spec, executor="local", workers=2, quiet=True)
    assert (tmp_path / "crashed").exists()
    assert result.complete and not result.failures
    from phasetune.campaign.tasks import run_chunk

    monkeypatch.setattr(runner_module, "run_chunk", run_chunk)
    clean = load_campaign(write_campaign(tmp_path, "nocrash.h5", per_isosurface=30, count=2))
    run_campaign(clean, workers=1, quiet=True)
    assert_same_shells(read_archive(spec.archive_path), read_archive(clean.archive_path))
    assert "worker process died" in spec.archive_path.with_suffix(".log").read_text()


def test_kinetic_campaign_records_inverse_kinetic_energy_and_resumes(tmp_path):
    kinetic = {"timestep": 0.001, "stride": 5, "equilibration": 10}
    short = load_campaign(write_campaign(tmp_path, "kin.h5", per_isosurface=20, count=2,
                                         flavour="kinetic", kinetic=kinetic, store_raw=True))
    assert run_campaign(short, workers=1, quiet=True).complete
    for shell in read_archive(short.archive_path).phase_volumes[0].shells:
        rows = shell.inv_kinetic
        assert rows.shape == (2, 3) and rows[:, 0].tolist() == [10, 10]  # one row per chunk
        inv = 1.0 / shell.raw[:, -1]  # 1/k of the recorded K/N column
        assert rows[:, 1].sum() == pytest.approx(inv.sum(), rel=1e-14)
        assert rows[:, 2].sum() == pytest.approx((inv**2).sum(), rel=1e-14)
        assert rows[0, 1] == pytest.approx(inv[:10].sum(), rel=1e-14)
    # resume: sampling more per isosurface appends chunks, identical to one uninterrupted run
    longer = load_campaign(write_campaign(tmp_path, "kin.h5", per_isosurface=30, count=2,
                                          flavour="kinetic", kinetic=kinetic, store_raw=True))
    assert run_campaign(longer, workers=1, quiet=True).complete
    clean = load_campaign(write_campaign(tmp_path, "clean.h5", per_isosurface=30, count=2,
                                         flavour="kinetic", kinetic=kinetic, store_raw=True))
    assert run_campaign(clean, workers=1, quiet=True).complete
    resumed = read_archive(longer.archive_path)
    assert_same_shells(resumed, read_archive(clean.archive_path))
    for shell in resumed.phase_volumes[0].shells:
        assert shell.inv_kinetic.shape == (3, 3) and shell.inv_kinetic[:, 0].sum() == shell.count


def test_spooled_kinetic_chunk_keeps_inverse_kinetic_energies(tmp_path):
    from phasetune.campaign.samplers import SampleBatch
    from phasetune.campaign.spool import read_spool, write_chunk

    batch = SampleBatch(D=np.array([[1.0, 0.2], [1.1, 0.3]]), energies=np.array([0.1, 0.2]),
                        measured_ealpha=None, inv_kinetic=np.array([5.0, 1.0 / 0.3]))
    write_chunk(tmp_path, "bcc", 15.9, -4.0, 3, batch)
    (chunk,), notes = read_spool(tmp_path)
    assert not notes and np.array_equal(chunk.batch.inv_kinetic, batch.inv_kinetic)


def test_appending_kinetic_samples_to_an_old_archive_is_refused():
    from phasetune.archive.stats import ShellAccumulator

    acc = ShellAccumulator(-4.0, 2, pilot_size=2)
    acc.add_batch(0, np.array([[1.0, 0.2], [1.1, 0.3]]))  # an old kinetic shell, no 1/k
    with pytest.raises(ArchiveError, match="re-sample: this kinetic archive predates"):
        acc.add_batch(1, np.array([[1.0, 0.2]]), inv_kinetic=np.array([5.0]))
