"""HDF5 archive: round trip, checksums, damaged files, atomic commits, merging, summary."""

from __future__ import annotations

import dataclasses
import json
import os

import h5py
import numpy as np
import pytest

from phasetune.archive import hdf5
from phasetune.archive.hdf5 import (
    merge_archives,
    read_archive,
    summarize,
    update_archive,
    write_archive,
)
from phasetune.archive.stats import ShellAccumulator
from phasetune.errors import ArchiveError
from phasetune.model import DescriptorInfo, HarmonicReference, PhaseVolume, ShellStats

N_ATOMS, N_D = 16, 5


def make_reference(phase: str = "bcc", volume: float = 16.0, seed: int = 0) -> HarmonicReference:
    rng = np.random.default_rng(seed)
    a = (2 * volume) ** (1 / 3)
    base = np.array([[0, 0, 0], [0.5, 0.5, 0.5]])
    cells = np.array([[i, j, k] for i in range(2) for j in range(2) for k in range(2)])
    positions = ((cells[:, None, :] + base[None]).reshape(-1, 3)) * a
    n = 3 * N_ATOMS - 3
    return HarmonicReference(
        phase=phase,
        n_atoms=N_ATOMS,
        mass=183.84,
        volume=volume,
        cell=np.eye(3) * 2 * a,
        positions=positions,
        n_trans=N_ATOMS,
        D0=rng.normal(size=N_D),
        E0=-8.9 + 0.01 * seed,
        omega=np.sort(rng.uniform(2.0, 20.0, size=n)),
        beta0=-0.5,
        hessian_residual=1e-9,
        eigenvectors=np.linalg.qr(rng.normal(size=(3 * N_ATOMS, n)))[0],
    )


def make_shell(alpha: float, seed: int, ids=(0, 1), frame_of: ShellStats | None = None):
    rng = np.random.default_rng(seed)
    acc = (
        ShellAccumulator.with_frame(frame_of, store_raw=True)
        if frame_of is not None
        else ShellAccumulator(alpha, N_D, pilot_size=100, store_raw=True)
    )
    for b in ids:
        D = 1.0 + np.exp(alpha) * rng.normal(size=(100, N_D)) * [1.0, 0.3, 0.1, 2.0, 0.01]
        acc.add_batch(b, D, energies=rng.normal(0.05, 0.01, size=100))
    return acc.to_stats()


def make_volume(phase="bcc", volume=16.0, alphas=(-3.0, -2.5, -2.0), seed=0) -> PhaseVolume:
    info = DescriptorInfo(
        kind="synthetic",
        params={"rcutfac": 4.7, "twojmax": 2},
        labels=[f"B{i}" for i in range(N_D)],
        fixed=np.array([False] * (N_D - 1) + [True]),
    )
    shells = [make_shell(a, seed=seed * 10 + i) for i, a in enumerate(alphas)]
    return PhaseVolume(
        make_reference(phase, volume, seed), shells, info, provenance={"engine": "fake", "seed": 3}
    )


METADATA = {
    "conventions": {"modes": "3N", "statistics": "classical", "per_atom": True},
    "sampler": {"flavour": "hessian", "samples_per_batch": 100},
    "reference_potential": {"commands": ["pair_style zero 5.0"], "sha256": "ab" * 32},
    "provenance": {"seed": 42, "host": "test"},
}


def assert_volumes_equal(a: PhaseVolume, b: PhaseVolume) -> None:
    for obj_a, obj_b in [(a.reference, b.reference), *zip(a.shells, b.shells, strict=True)]:
        for f in dataclasses.fields(obj_a):
            x, y = getattr(obj_a, f.name), getattr(obj_b, f.name)
            if x is None or y is None or isinstance(x, str):
                assert x == y if isinstance(x, str) else (x is None and y is None), f.name
            else:
                assert np.array_equal(x, y, equal_nan=True), f.name
                assert np.asarray(x).dtype.kind == np.asarray(y).dtype.kind, f.name
    assert a.flavour == b.flavour and a.provenance == b.provenance
    assert a.descriptors.kind == b.descriptors.kind and a.descriptors.labels == b.descriptors.labels
    assert a.descriptors.params == b.descriptors.params
    np.testing.assert_array_equal(a.descriptors.fixed, b.descriptors.fixed)


@pytest.fixture
def archive_path(tmp_path):
    path = tmp_path / "campaign.h5"
    volumes = [make_volume("bcc", 16.0), make_volume("fcc", 16.5, alphas=(-2.8, -2.2), seed=1)]
    write_archive(path, volumes, METADATA)
    return path, volumes


def test_round_trip_every_field(archive_path):
    path, volumes = archive_path
    arch = read_archive(path)
    assert arch.phases == ["bcc", "fcc"]
    for pv in volumes:
        assert_volumes_equal(arch.get(pv.reference.phase), pv)
    meta = arch.metadata
    assert meta["format"] == "phasetune-ddos" and meta["format_version"] == 1
    for key in ("conventions", "sampler", "reference_potential", "provenance"):
        assert meta[key] == METADATA[key]
    assert meta["descriptor"]["labels"] == [f"B{i}" for i in range(N_D)]
    assert meta["units"]["energy"] == "eV" and meta["created"] and meta["modified"]
    with h5py.File(path) as f:
        shell = f["phases/bcc/v0/shells/1"]
        assert shell["power_sums"].shape == (2, N_D, 25)
        assert shell.attrs["T_alpha"] > 0
        assert all("sha256" in ds.attrs for ds in _datasets(f))
    with pytest.raises(ArchiveError, match="no volume 1"):
        arch.get("bcc", 1)


def _datasets(f: h5py.File) -> list[h5py.Dataset]:
    found: list[h5py.Dataset] = []
    f.visititems(lambda _, obj: found.append(obj) if isinstance(obj, h5py.Dataset) else None)
    return found


def test_volumes_sorted_and_optional_fields(tmp_path):
    small, large = make_volume(volume=15.0, seed=2), make_volume(volume=17.0, seed=3)
    small.reference = dataclasses.replace(small.reference, eigenvectors=None)
    for s in small.shells:
        s.raw, s.energy_mean, s.energy_var = None, float("nan"), float("nan")
    path = write_archive(tmp_path / "a.h5", [large, small], METADATA)
    arch = read_archive(path)
    assert_volumes_equal(arch.get("bcc", 0), small)
    assert_volumes_equal(arch.get("bcc", 1), large)


def test_missing_optional_keys_are_tolerated(archive_path):
    path, volumes = archive_path
    with h5py.File(path, "a") as f:
        del f["phases/bcc/v0/lattice/beta0"]
        del f["phases/bcc/v0/shells/0/raw"]
        del f.attrs["units"]
        hdf5.seal_attributes(f)
    pv = read_archive(path).get("bcc")
    assert pv.reference.beta0 == 0.0 and pv.shells[0].raw is None
    np.testing.assert_array_equal(pv.shells[0].cov, volumes[0].shells[0].cov)


def _flip_bytes(path, dataset: str) -> None:
    with h5py.File(path) as f:
        offset = f[dataset].id.get_offset()
    assert offset is not None
    with open(path, "r+b") as fh:
        fh.seek(offset + 3)
        byte = fh.read(1)
        fh.seek(offset + 3)
        fh.write(bytes([byte[0] ^ 0xFF]))


def test_corruption_on_disk_is_named_and_intact_parts_reported(archive_path):
    path, volumes = archive_path
    _flip_bytes(path, "phases/bcc/v0/shells/1/cov")
    with pytest.raises(ArchiveError) as err:
        read_archive(path)
    msg = str(err.value)
    assert "/phases/bcc/v0/shells/1/cov" in msg
    assert "bcc/v0: reference intact, shells intact ['0', '2'], lost ['1']" in msg
    assert "fcc/v0: reference intact, shells intact ['0', '1']" in msg
    assert err.value.hint and "salvage" in err.value.hint
    salvaged = read_archive(path, salvage=True)
    assert [s.alpha for s in salvaged.get("bcc").shells] == [-3.0, -2.0]
    assert len(salvaged.get("fcc").shells) == 2
    assert salvaged.metadata["provenance"]["salvaged"]["dropped"] == ["/phases/bcc/v0/shells/1/cov"]
    read_archive(path, verify=False)  # loads without checks


def test_corruption_through_h5py_and_of_attributes(archive_path):
    path, _ = archive_path
    with h5py.File(path, "a") as f:
        f["phases/fcc/v0/lattice/D0"][2] += 1e-12
        f["phases/bcc/v0/hessian/omega"][0] *= 2
        f["phases/fcc/v0"].attrs["flavour"] = "kinetic"
    with pytest.raises(ArchiveError) as err:
        read_archive(path)
    msg = str(err.value)
    for name in ("/phases/fcc/v0/lattice/D0", "/phases/bcc/v0/hessian/omega", "(attributes)"):
        assert name in msg
    assert "bcc/v0: reference CORRUPTED" in msg
    assert read_archive(path, salvage=True).phase_volumes == []


@pytest.mark.parametrize("keep", [0.5, 0.1])
def test_truncated_file(archive_path, keep):
    path, _ = archive_path
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ArchiveError, match="cannot read|corrupted"):
        read_archive(path)


def test_non_hdf5_missing_and_foreign_files(tmp_path):
    junk = tmp_path / "junk.h5"
    junk.write_text("not an archive")
    with pytest.raises(ArchiveError, match="cannot read"):
        read_archive(junk)
    with pytest.raises(ArchiveError, match="not found"):
        read_archive(tmp_path / "missing.h5")
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = 1
    with pytest.raises(ArchiveError, match="not a phasetune"):
        read_archive(foreign)


def test_newer_format_version_is_refused(archive_path):
    path, _ = archive_path
    with h5py.File(path, "a") as f:
        f.attrs["format_version"] = 2
    with pytest.raises(ArchiveError, match="newer") as err:
        read_archive(path)
    assert "upgrade" in err.value.hint


def test_failed_write_leaves_previous_archive_intact(archive_path, monkeypatch):
    path, volumes = archive_path
    before = path.read_bytes()
    calls = []

    def explode(group, pv, conventions):
        calls.append(pv)
        if len(calls) == 2:
            raise RuntimeError("killed mid-write")
        original(group, pv, conventions)

    original = hdf5._write_volume
    monkeypatch.setattr(hdf5, "_write_volume", explode)
    with pytest.raises(RuntimeError, match="mid-write"):
        update_archive(path, [*volumes, make_volume("a15", 17.0, seed=5)], METADATA)
    assert len(calls) == 2
    assert path.read_bytes() == before
    assert sorted(os.listdir(path.parent)) == [path.name]
    assert read_archive(path).phases == ["bcc", "fcc"]


def test_update_keeps_created_and_refuses_other_campaign(archive_path):
    path, volumes = archive_path
    created = read_archive(path).metadata["created"]
    with h5py.File(path, "a") as f:  # pretend it was created long ago (re-seal root attrs)
        f.attrs["created"] = "2000-01-01T00:00:00+00:00"
        hdf5.seal_attributes(f)
    update_archive(path, volumes[:1], METADATA)
    meta = read_archive(path).metadata
    assert meta["created"] == "2000-01-01T00:00:00+00:00" and meta["modified"] >= created
    other = {**METADATA, "reference_potential": {"sha256": "cd" * 32}}
    with pytest.raises(ArchiveError, match="different campaign"):
        update_archive(path, volumes[:1], other)


def test_metadata_and_volume_validation(tmp_path):
    pv = make_volume()
    with pytest.raises(ArchiveError, match="missing keys \\['sampler'\\]"):
        write_archive(
            tmp_path / "a.h5", [pv], {k: v for k, v in METADATA.items() if k != "sampler"}
        )
    with pytest.raises(ArchiveError, match="unknown keys \\['sampelr'\\]"):
        write_archive(tmp_path / "a.h5", [pv], {**METADATA, "sampelr": {}})
    with pytest.raises(ArchiveError, match="same volume"):
        write_archive(tmp_path / "a.h5", [pv, make_volume(seed=4)], METADATA)
    bad = make_volume()
    bad.shells[1].alpha = bad.shells[0].alpha
    with pytest.raises(ArchiveError, match="same α"):
        write_archive(tmp_path / "a.h5", [bad], METADATA)
    assert not (tmp_path / "a.h5").exists()


def test_merge_compatible_archives(tmp_path):
    a_bcc = make_volume("bcc", 16.0, alphas=(-3.0, -2.5))
    b_bcc = make_volume("bcc", 16.0, alphas=(-2.0,))
    b_bcc.shells.append(make_shell(-3.0, seed=99, ids=(5, 6), frame_of=a_bcc.shells[0]))
    b_fcc = make_volume("fcc", 16.5, seed=1)
    a = read_archive(write_archive(tmp_path / "a.h5", [a_bcc], METADATA))
    b = read_archive(write_archive(tmp_path / "b.h5", [b_bcc, b_fcc], METADATA))
    merged = merge_archives(a, b)
    assert merged.phases == ["bcc", "fcc"]
    bcc = merged.get("bcc")
    assert [s.alpha for s in bcc.shells] == [-3.0, -2.5, -2.0]
    assert bcc.shells[0].count == 400
    np.testing.assert_array_equal(bcc.shells[0].batch_ids, [0, 1, 5, 6])
    np.testing.assert_array_equal(
        bcc.shells[0].hist_counts, a_bcc.shells[0].hist_counts + b_bcc.shells[1].hist_counts
    )
    assert_volumes_equal(merged.get("fcc"), b_fcc)
    assert len(a.get("bcc").shells) == 2  # inputs untouched
    sources = merged.metadata["provenance"]["merged_from"]
    assert [s["path"] for s in sources] == [str(tmp_path / "a.h5"), str(tmp_path / "b.h5")]
    out = write_archive(tmp_path / "c.h5", merged.phase_volumes, merged.metadata)
    assert_volumes_equal(read_archive(out).get("bcc"), bcc)


def test_merge_incompatible_archives(tmp_path):
    pv = make_volume()
    a = read_archive(write_archive(tmp_path / "a.h5", [pv], METADATA))
    other_potential = {**METADATA, "reference_potential": {"sha256": "00" * 32}}
    b = read_archive(write_archive(tmp_path / "b.h5", [make_volume()], other_potential))
    with pytest.raises(ArchiveError, match="reference potential differs"):
        merge_archives(a, b)
    other_conv = {**METADATA, "conventions": {"modes": "3N-3", "statistics": "classical"}}
    c = read_archive(write_archive(tmp_path / "c.h5", [make_volume()], other_conv))
    with pytest.raises(ArchiveError, match="conventions differs"):
        merge_archives(a, c)
    moved = make_volume(seed=0)
    shifted = moved.reference.positions + 1e-3
    moved.reference = dataclasses.replace(moved.reference, positions=shifted)
    moved.shells = []
    d = read_archive(write_archive(tmp_path / "d.h5", [moved], METADATA))
    with pytest.raises(ArchiveError, match="differ in positions"):
        merge_archives(a, d)
    with pytest.raises(ArchiveError, match="in both"):
        merge_archives(a, a)


def test_summary_is_strict_json(archive_path):
    path, volumes = archive_path
    summary = summarize(read_archive(path))
    text = json.dumps(summary, allow_nan=False)
    assert json.loads(text)["format_version"] == 1
    assert summary["file_size_bytes"] == path.stat().st_size
    assert summary["descriptor"]["n_components"] == N_D
    bcc = summary["phases"][0]["volumes"][0]
    assert bcc["n_atoms"] == N_ATOMS and bcc["n_shells"] == 3 and bcc["n_samples"] == 600
    shell = bcc["shells"][0]
    assert shell["count"] == 200 and shell["n_batches"] == 2
    omega_bar = volumes[0].reference.omega_bar
    assert shell["T_alpha"] == pytest.approx(omega_bar * np.exp(-3.0) / (3 * 8.617333262e-5))
    assert 0 <= shell["max_frame_correlation"] < 1
