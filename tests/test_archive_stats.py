"""Streaming shell statistics: exactness, determinism, batch-split invariance, merging."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from phasetune.archive.stats import Batch, ShellAccumulator, merge
from phasetune.errors import ArchiveError
from phasetune.model import HIST_RANGE, N_BINS, N_POWERS, ShellStats

N_D = 5
SCALES = np.array([3.0, 0.5, 2e-2, 1e-3, 1.0])
OFFSET = np.array([10.0, -3.0, 0.25, 1.5, 7.0])


def make_data(n: int, seed: int = 0) -> np.ndarray:
    """Correlated descriptors with very different spreads and large offsets."""
    rng = np.random.default_rng(seed)
    mix = np.eye(N_D) + 0.3 * rng.normal(size=(N_D, N_D))
    return OFFSET + (rng.normal(size=(n, N_D)) * SCALES) @ mix


def accumulate(D: np.ndarray, sizes: list[int], first_id: int = 0, **kwargs) -> ShellAccumulator:
    acc = ShellAccumulator(0.25, D.shape[1], pilot_size=kwargs.pop("pilot_size", 200), **kwargs)
    start = 0
    for b, size in enumerate(sizes):
        acc.add_batch(first_id + b, D[start : start + size], energies=D[start : start + size, 0])
        start += size
    assert start == D.shape[0]
    return acc


def assert_stats_identical(a: ShellStats, b: ShellStats) -> None:
    for f in dataclasses.fields(ShellStats):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if x is None or y is None:
            assert x is None and y is None, f.name
        else:
            assert np.array_equal(x, y, equal_nan=True), f.name


def direct_u(stats: ShellStats, D: np.ndarray) -> np.ndarray:
    return (D - stats.frame_mean) @ stats.frame_rotation / stats.frame_scale


def test_mean_and_covariance_match_numpy():
    D = make_data(1200)
    stats = accumulate(D, [150] * 8).to_stats()
    assert stats.count == 1200
    np.testing.assert_allclose(stats.mean, D.mean(axis=0), rtol=1e-12)
    ref = np.cov(D.T)
    assert np.max(np.abs(stats.cov - ref)) <= 1e-12 * np.max(np.abs(ref))
    np.testing.assert_allclose(np.diag(stats.cov), np.diag(ref), rtol=1e-11)
    np.testing.assert_allclose(stats.energy_mean, D[:, 0].mean(), rtol=1e-13)
    np.testing.assert_allclose(stats.energy_var, D[:, 0].var(ddof=1), rtol=1e-12)


def test_power_sums_equal_direct_sums_per_batch():
    D = make_data(900, seed=1)
    stats = accumulate(D, [300, 300, 300]).to_stats()
    assert stats.power_sums.shape == (3, N_D, N_POWERS)
    np.testing.assert_array_equal(stats.batch_ids, [0, 1, 2])
    u = direct_u(stats, D)
    for b in range(3):
        ub = u[300 * b : 300 * (b + 1)]
        for p in range(N_POWERS):
            direct = np.sum(ub**p, axis=0)
            bound = 1e-10 * np.sum(np.abs(ub) ** p, axis=0)
            assert np.all(np.abs(stats.power_sums[b, :, p] - direct) <= bound), p
    np.testing.assert_array_equal(stats.power_sums[:, :, 0], 300)


def test_frame_is_pca_of_pilot_and_standardises_it():
    D = make_data(1000, seed=2)
    stats = accumulate(D, [100] * 10, pilot_size=400).to_stats()
    pilot = D[:400]
    np.testing.assert_allclose(stats.frame_mean, pilot.mean(axis=0), rtol=1e-12)
    evals = np.sort(np.linalg.eigvalsh(np.cov(pilot.T)))[::-1]
    np.testing.assert_allclose(stats.frame_eigenvalues, evals, rtol=1e-9, atol=1e-13 * evals[0])
    assert np.all(np.diff(stats.frame_eigenvalues) <= 0)
    R = stats.frame_rotation
    np.testing.assert_allclose(R.T @ R, np.eye(N_D), atol=1e-12)
    u_pilot = direct_u(stats, pilot)
    np.testing.assert_allclose(np.cov(u_pilot.T), np.eye(N_D), atol=1e-9)


def test_batch_split_invariance():
    D = make_data(1000, seed=3)
    splits = [[100] * 10, [250] * 4, [37, 163, 500, 1, 299], [1000]]
    stats = [accumulate(D, s).to_stats() for s in splits]
    ref = stats[0]
    for other in stats[1:]:
        assert other.count == ref.count
        np.testing.assert_allclose(other.mean, ref.mean, rtol=1e-14)
        np.testing.assert_allclose(other.cov, ref.cov, rtol=1e-12, atol=1e-15)
        for name in ("frame_mean", "frame_rotation", "frame_scale", "hist_counts"):
            np.testing.assert_array_equal(getattr(other, name), getattr(ref, name))
        for name in ("hist_under", "hist_over", "u_min", "u_max"):
            np.testing.assert_array_equal(getattr(other, name), getattr(ref, name))
        total, ref_total = other.power_sums.sum(axis=0), ref.power_sums.sum(axis=0)
        u = direct_u(ref, D)
        scale = np.array([np.sum(np.abs(u) ** p, axis=0) for p in range(N_POWERS)]).T
        assert np.all(np.abs(total - ref_total) <= 1e-11 * scale)


def test_same_batches_same_order_bit_identical_and_sorted_merge():
    D = make_data(800, seed=4)
    a = accumulate(D, [200] * 4).to_stats()
    b = accumulate(D, [200] * 4).to_stats()
    assert_stats_identical(a, b)
    batches = [
        Batch(i, D[200 * i : 200 * (i + 1)], D[200 * i : 200 * (i + 1), 0]) for i in range(4)
    ]
    shuffled = ShellAccumulator(0.25, N_D, pilot_size=200)
    assert shuffled.add_batches_sorted([batches[i] for i in (2, 0, 3, 1)]) == 4
    assert_stats_identical(shuffled.to_stats(), a)


def test_duplicate_batch_is_ignored_while_buffered_and_after():
    D = make_data(600, seed=5)
    acc = ShellAccumulator(0.25, N_D, pilot_size=400)
    assert acc.add_batch(7, D[:300])
    assert not acc.add_batch(7, D[300:])  # buffered: frame not fixed yet
    assert acc.count == 300 and not acc.frame_fixed
    assert acc.add_batch(8, D[300:])
    before = acc.to_stats()
    assert not acc.add_batch(8, D[:10])
    assert not acc.add_batch(np.int64(7), D[:10])
    assert_stats_identical(acc.to_stats(), before)
    assert before.count == 600


def test_out_of_range_samples_are_counted():
    D = make_data(600, seed=6)
    D[550:560, 0] += 1e4  # far outliers after the pilot: u ≫ HIST_RANGE
    D[560:565, 0] -= 1e4
    stats = accumulate(D, [100] * 6).to_stats()
    assert np.sum(stats.hist_over) >= 10 and np.sum(stats.hist_under) >= 5
    totals = stats.hist_counts.sum(axis=1) + stats.hist_under + stats.hist_over
    np.testing.assert_array_equal(totals, stats.count)
    u = direct_u(stats, D)
    np.testing.assert_array_equal(stats.hist_over, np.sum(u > HIST_RANGE, axis=0))
    np.testing.assert_array_equal(stats.hist_under, np.sum(u < -HIST_RANGE, axis=0))
    np.testing.assert_allclose(stats.u_max, u.max(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.u_min, u.min(axis=0), rtol=1e-12)
    assert stats.hist_counts.shape == (N_D, N_BINS)
    inside = (u >= -HIST_RANGE) & (u <= HIST_RANGE)
    j = 2
    expected, _ = np.histogram(u[inside[:, j], j], bins=stats.hist_edges[j])
    np.testing.assert_array_equal(stats.hist_counts[j], expected)


def test_zero_variance_component_gets_unit_scale():
    D = make_data(600, seed=7)
    D[:, 4] = 0.125
    stats = accumulate(D, [300, 300]).to_stats()
    assert stats.frame_scale[-1] == 1.0
    assert abs(stats.frame_eigenvalues[-1]) < 1e-12 * stats.frame_eigenvalues[0]
    assert np.all(np.isfinite(stats.power_sums))


def test_frame_not_fixed_before_pilot_unless_forced():
    D = make_data(150, seed=8)
    acc = ShellAccumulator(0.25, N_D)
    assert acc.pilot_size == 500
    acc.add_batch(0, D)
    with pytest.raises(ArchiveError, match="pilot"):
        acc.to_stats()
    stats = acc.to_stats(force_frame=True)
    assert acc.frame_forced and acc.frame_pilot_count == 150
    assert stats.count == 150 and stats.power_sums.shape[0] == 1
    with pytest.raises(ArchiveError):
        ShellAccumulator(0.25, N_D).to_stats(force_frame=True)


def test_resume_from_stats_equals_one_pass():
    D = make_data(1000, seed=9)
    full = accumulate(D, [200] * 5, store_raw=True).to_stats()
    first = accumulate(D[:600], [200] * 3, store_raw=True).to_stats()
    resumed = ShellAccumulator.from_stats(first)
    for b in (3, 4):
        resumed.add_batch(b, D[200 * b : 200 * (b + 1)], energies=D[200 * b : 200 * (b + 1), 0])
    assert not resumed.add_batch(1, D[:5])
    stats = resumed.to_stats()
    np.testing.assert_array_equal(stats.hist_counts, full.hist_counts)
    np.testing.assert_array_equal(stats.power_sums, full.power_sums)
    np.testing.assert_array_equal(stats.raw, D)
    np.testing.assert_allclose(stats.cov, full.cov, rtol=1e-13, atol=1e-18)
    np.testing.assert_allclose(stats.energy_var, full.energy_var, rtol=1e-13)


def test_merge_equals_single_accumulation_and_is_symmetric():
    D = make_data(1000, seed=10)
    full = accumulate(D, [250] * 4).to_stats()
    a = accumulate(D[:500], [250, 250]).to_stats()
    other = ShellAccumulator.with_frame(a)
    for b in (2, 3):
        other.add_batch(b, D[250 * b : 250 * (b + 1)], energies=D[250 * b : 250 * (b + 1), 0])
    b_stats = other.to_stats()
    merged = merge(a, b_stats)
    assert_stats_identical(merged, merge(b_stats, a))
    assert merged.count == 1000
    np.testing.assert_array_equal(merged.batch_ids, [0, 1, 2, 3])
    np.testing.assert_array_equal(merged.hist_counts, full.hist_counts)
    np.testing.assert_array_equal(merged.power_sums, full.power_sums)
    np.testing.assert_allclose(merged.mean, full.mean, rtol=1e-14)
    np.testing.assert_allclose(merged.cov, full.cov, rtol=1e-12, atol=1e-18)
    np.testing.assert_allclose(merged.energy_mean, full.energy_mean, rtol=1e-14)


def test_merge_refuses_other_frames_and_shared_batches():
    D = make_data(1000, seed=11)
    a = accumulate(D[:500], [250, 250]).to_stats()
    b = accumulate(D[500:], [250, 250], first_id=2).to_stats()  # its own pilot → other frame
    with pytest.raises(ArchiveError, match="different frames"):
        merge(a, b)
    with pytest.raises(ArchiveError, match="in both"):
        merge(a, a)
    with pytest.raises(ArchiveError):
        merge(a, dataclasses.replace(a, alpha=0.5))


def test_invalid_batches_are_rejected():
    acc = ShellAccumulator(0.25, N_D, pilot_size=10)
    D = make_data(20)
    with pytest.raises(ArchiveError, match="shape"):
        acc.add_batch(0, D[:, :4])
    bad = D.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ArchiveError, match="non-finite"):
        acc.add_batch(0, bad)
    with pytest.raises(ArchiveError, match="integer"):
        acc.add_batch("0", D)
    acc.add_batch(0, D, energies=np.zeros(20))
    with pytest.raises(ArchiveError, match="energies"):
        acc.add_batch(1, D)
    with pytest.raises(ArchiveError, match="entries"):
        acc.add_batch(1, D, energies=np.zeros(3))
    assert acc.count == 20


def test_measured_ealpha_diagnostic():
    acc = ShellAccumulator(0.0, N_D, pilot_size=10)
    acc.add_batch(0, make_data(20), measured_ealpha=np.full(20, 1.0 + 1e-9))
    assert 0.9e-9 < acc.ealpha_max_rel_dev < 1.1e-9


def test_frame_kernels_equal_their_sequential_definitions_bitwise():
    """project, power_sums and histogram are vectorised; each element must still come out of the
    same operations in the same order as the plain loops (archives stay bit-for-bit identical)."""
    from phasetune.archive.frame import default_hist_edges, histogram, power_sums, project

    rng = np.random.default_rng(7)
    for n, n_d in [(1, 1), (25, 5), (30, 31), (7, 12), (300, 300)]:  # last: two row blocks
        D = OFFSET.mean() + rng.normal(size=(n, n_d)) * rng.uniform(1e-3, 3.0, n_d)
        mu, rotation = D.mean(axis=0), np.linalg.qr(rng.normal(size=(n_d, n_d)))[0]
        rotation[0] = -0.0  # signed zeros: 0 + (−0) must give +0 as in the loop
        scale = rng.uniform(0.5, 2.0, n_d)
        dev, expected = D - mu, np.zeros((n, n_d))
        for k in range(n_d):
            expected += dev[:, k : k + 1] * rotation[k]
        u = project(D, mu, rotation, scale)
        assert u.tobytes() == (expected / scale).tobytes()

        u = u * 4.0
        u[0] = HIST_RANGE  # right edge of the last bin: counted in it
        ps, acc = np.empty((n_d, N_POWERS)), np.ones((n_d, n))
        ps[:, 0] = n
        for p in range(1, N_POWERS):
            acc *= np.ascontiguousarray(u.T)
            ps[:, p] = acc.sum(axis=1)
        assert power_sums(u).tobytes() == ps.tobytes()

        for edges in (default_hist_edges(n_d),
                      default_hist_edges(n_d) * rng.uniform(0.5, 2.0, (n_d, 1))):
            counts, under, over = histogram(u, edges)
            for j in range(n_d):
                col, e = u[:, j], edges[j]
                assert under[j] == np.count_nonzero(col < e[0])
                assert over[j] == np.count_nonzero(col > e[-1])
                np.testing.assert_array_equal(counts[j], np.histogram(col, e)[0])
            assert counts.dtype == under.dtype == over.dtype == np.int64
