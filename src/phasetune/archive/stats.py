"""Streaming compression of the descriptors sampled on one shell α (method.md §5).

A :class:`ShellAccumulator` turns batches of raw descriptors D (n × N_D, per-atom averages) into a
:class:`~phasetune.model.ShellStats` whose size does not depend on the sample count:

* exact count, mean and covariance of D, merged pairwise (Chan et al.) in float64;
* a frame (μ_f, R_f, eigenvalues, σ_f) fixed once from the first ``pilot_size`` samples;
* per-batch power sums M[b, j, p] = Σ_s u_sj^p (p = 0 … N_POWERS − 1) of the standardised frame
  coordinates u = R_fᵀ(D − μ_f)/σ_f;
* histograms of u (N_BINS bins over ±HIST_RANGE) with under/overflow counts, u_min, u_max;
* the mean and variance of the reference energy per atom above E0_ref;
* kinetic flavour: per-batch sums [n, Σ 1/k, Σ (1/k)²] of the inverse kinetic energy per atom
  (method.md §4.5), concatenated in batch order like the power sums.

Determinism and merge order
---------------------------
The same batches added in the same order give bit-identical statistics.  The frame is fixed from
exactly the first ``pilot_size`` samples of the stream (not from whole batches), and u is computed
row by row with element-wise operations, so the frame, u, the histograms, u_min/u_max and each
batch's power sums do not depend on how the stream was cut into batches; count, mean and
covariance agree to rounding.  **The campaign must merge batches in increasing batch-id order**
(use :meth:`ShellAccumulator.add_batches_sorted`, and hold a finished batch back until all
lower ids are merged): the batch ids, not the worker that ran them, then determine the result.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from ..errors import ArchiveError
from ..model import N_POWERS, ShellStats
from .frame import (
    Frame,
    chan_merge,
    default_hist_edges,
    fix_frame,
    frame_of,
    histogram,
    power_sums,
    project,
)

ALPHA_TOL = 1e-9
"""Two shells are the same shell when their α differ by less than this."""


class Batch(NamedTuple):
    """One unit of sampling work: ``D`` (n, N_D); optional ``energies`` (n,) reference energy per
    atom above E0_ref, eV/atom; optional ``measured_ealpha`` (n,) measured e^α, Å²; optional
    ``inv_kinetic`` (n,) 1/k, k the kinetic energy per atom (eV/atom, kinetic flavour)."""

    batch_id: int
    D: np.ndarray
    energies: np.ndarray | None = None
    measured_ealpha: np.ndarray | None = None
    inv_kinetic: np.ndarray | None = None


def default_pilot_size(n_components: int) -> int:
    """Samples that fix the frame: max(10·N_D, 500)."""
    return max(10 * n_components, 500)


def empty_stats(alpha: float, frame: Frame, edges: np.ndarray, *, store_raw: bool) -> ShellStats:
    """Statistics of zero samples in a given frame (the neutral element of :func:`combine`)."""
    n_d = len(frame[0])
    return ShellStats(
        alpha=float(alpha),
        count=0,
        mean=np.zeros(n_d),
        cov=np.zeros((n_d, n_d)),
        frame_mean=frame[0],
        frame_rotation=frame[1],
        frame_eigenvalues=frame[2],
        frame_scale=frame[3],
        power_sums=np.zeros((0, n_d, N_POWERS)),
        batch_ids=np.zeros(0, dtype=np.int64),
        hist_counts=np.zeros((n_d, edges.shape[1] - 1), dtype=np.int64),
        hist_edges=edges,
        hist_under=np.zeros(n_d, dtype=np.int64),
        hist_over=np.zeros(n_d, dtype=np.int64),
        u_min=np.full(n_d, np.inf),
        u_max=np.full(n_d, -np.inf),
        raw=np.zeros((0, n_d)) if store_raw else None,
    )


def batch_stats(
    alpha: float, batch: Batch, frame: Frame, edges: np.ndarray, *, store_raw: bool
) -> ShellStats:
    """Statistics of one validated batch, projected into ``frame``."""
    n = batch.D.shape[0]
    dt = np.ascontiguousarray(batch.D.T)
    mean = dt.sum(axis=1) / n
    dev = dt - mean[:, None]
    u = project(batch.D, frame[0], frame[1], frame[3])
    counts, under, over = histogram(u, edges)
    e_mean = e_var = float("nan")
    if batch.energies is not None:
        e_mean = float(np.sum(batch.energies) / n)
        e_var = float(np.sum((batch.energies - e_mean) ** 2)) / max(n - 1, 1)
    inv_k = None
    if batch.inv_kinetic is not None:
        inv_k = np.array([[n, np.sum(batch.inv_kinetic), np.sum(batch.inv_kinetic ** 2)]])
    return ShellStats(
        alpha=float(alpha),
        count=n,
        mean=mean,
        cov=dev @ dev.T / max(n - 1, 1),
        frame_mean=frame[0],
        frame_rotation=frame[1],
        frame_eigenvalues=frame[2],
        frame_scale=frame[3],
        power_sums=power_sums(u)[None],
        batch_ids=np.array([batch.batch_id], dtype=np.int64),
        hist_counts=counts,
        hist_edges=edges,
        hist_under=under,
        hist_over=over,
        u_min=u.min(axis=0),
        u_max=u.max(axis=0),
        energy_mean=e_mean,
        energy_var=e_var,
        inv_kinetic=inv_k,
        raw=batch.D.copy() if store_raw else None,
    )


def combine(a: ShellStats, b: ShellStats) -> ShellStats:
    """``a`` then ``b`` merged (Chan for mean/cov/energy; sums, min/max, concatenations), in
    ``a``'s frame, without compatibility checks (see :func:`merge`).  Returns new arrays."""

    def m2(s: ShellStats, var):
        return np.asarray(var, dtype=float) * max(s.count - 1, 0)

    n, mean, cov_m2 = chan_merge(a.count, a.mean, m2(a, a.cov), b.count, b.mean, m2(b, b.cov))
    if a.count == 0 or b.count == 0:
        energy_mean, energy_var = (b, a)[b.count == 0].energy_mean, (b, a)[b.count == 0].energy_var
    elif np.isfinite(a.energy_mean) and np.isfinite(b.energy_mean):
        _, energy_mean, e_m2 = chan_merge(
            a.count, a.energy_mean, m2(a, a.energy_var), b.count, b.energy_mean, m2(b, b.energy_var)
        )
        energy_var = float(e_m2) / max(n - 1, 1)
    else:
        energy_mean = energy_var = float("nan")
    both_raw = a.raw is not None and b.raw is not None
    if a.count == 0 or b.count == 0:
        inv_k = (b, a)[b.count == 0].inv_kinetic
    elif a.inv_kinetic is not None and b.inv_kinetic is not None:
        inv_k = np.concatenate([a.inv_kinetic, b.inv_kinetic])
    else:
        inv_k = None
    return ShellStats(
        alpha=float(a.alpha),
        count=int(n),
        mean=np.array(mean, dtype=float),
        cov=np.array(cov_m2, dtype=float) / max(n - 1, 1),
        frame_mean=np.array(a.frame_mean, dtype=float),
        frame_rotation=np.array(a.frame_rotation, dtype=float),
        frame_eigenvalues=np.array(a.frame_eigenvalues, dtype=float),
        frame_scale=np.array(a.frame_scale, dtype=float),
        power_sums=np.concatenate([a.power_sums, b.power_sums]),
        batch_ids=np.concatenate([a.batch_ids, b.batch_ids]).astype(np.int64),
        hist_counts=a.hist_counts + b.hist_counts,
        hist_edges=np.array(a.hist_edges, dtype=float),
        hist_under=a.hist_under + b.hist_under,
        hist_over=a.hist_over + b.hist_over,
        u_min=np.minimum(a.u_min, b.u_min),
        u_max=np.maximum(a.u_max, b.u_max),
        energy_mean=float(energy_mean),
        energy_var=float(energy_var),
        inv_kinetic=None if inv_k is None else np.array(inv_k, dtype=float),
        raw=np.concatenate([a.raw, b.raw]) if both_raw else None,
    )


def same_frame(a: ShellStats, b: ShellStats) -> bool:
    """True if both shells use bit-identical frames and histogram edges."""
    names = ("frame_mean", "frame_rotation", "frame_eigenvalues", "frame_scale", "hist_edges")
    return all(np.array_equal(getattr(a, k), getattr(b, k)) for k in names)


def merge(a: ShellStats, b: ShellStats) -> ShellStats:
    """Combine two archives' statistics of the same shell.

    Requires the same α (within ALPHA_TOL), bit-identical frames (e.g. ``b`` sampled with
    :meth:`ShellAccumulator.with_frame` of ``a``) and disjoint batch ids.  The result does not
    depend on argument order: the shell holding the smallest batch id goes first.  Raw
    descriptors are kept only if both sides have them; energy statistics and ⟨1/k⟩ sums only if
    both know them.
    """
    if abs(a.alpha - b.alpha) > ALPHA_TOL:
        raise ArchiveError(f"cannot merge shells α={a.alpha:g} and α={b.alpha:g}")
    if not same_frame(a, b):
        raise ArchiveError(
            f"shell α={a.alpha:g}: the two archives use different frames (μ_f, R_f, σ_f or "
            "histogram edges), so their power sums and histograms are not comparable",
            "archives sampled separately cannot be merged shell by shell; extend the first "
            "one instead (run `phasetune sample` again on it with more samples per isosurface)",
        )
    common = np.intersect1d(a.batch_ids, b.batch_ids)
    if common.size:
        raise ArchiveError(
            f"shell α={a.alpha:g}: batch ids {common[:10].tolist()} are in both archives",
            "merge archives whose batches are disjoint (same batch id = same samples)",
        )
    if b.count and (not a.count or np.min(b.batch_ids) < np.min(a.batch_ids)):
        a, b = b, a
    return combine(a, b)


class ShellAccumulator:
    """Streaming statistics of one shell α; see the module docstring for the merge-order contract.

    Until ``pilot_size`` samples have arrived, batches are buffered raw; then the frame is fixed
    from the first ``pilot_size`` samples and every batch is projected into it.

    Args:
        alpha: shell label α (e^α in Å², per atom).
        n_components: N_D.
        store_raw: also keep every raw descriptor row (n × N_D float64) for re-framing.
        pilot_size: samples that fix the frame; default max(10·N_D, 500).
    """

    def __init__(
        self,
        alpha: float,
        n_components: int,
        *,
        store_raw: bool = False,
        pilot_size: int | None = None,
    ):
        if n_components < 1:
            raise ArchiveError(f"n_components must be ≥ 1, got {n_components}")
        self.alpha = float(alpha)
        self.n_components = int(n_components)
        self.store_raw = store_raw
        self.pilot_size = int(pilot_size or default_pilot_size(n_components))
        self.frame_pilot_count: int | None = None
        """Samples the frame was fixed from (None when resumed from stats)."""
        self.frame_forced = False
        """True if :meth:`to_stats` fixed the frame from fewer than ``pilot_size`` samples."""
        self.ealpha_max_rel_dev = 0.0
        """Largest |measured e^α / e^α − 1| seen (diagnostic; not stored in ShellStats)."""
        self._edges = default_hist_edges(n_components)
        self._state: ShellStats | None = None
        self._pending: list[Batch] = []

    @classmethod
    def from_stats(cls, stats: ShellStats) -> ShellAccumulator:
        """Resume appending to an archived shell (frame fixed; raw kept if ``stats.raw``)."""
        acc = cls.with_frame(stats, store_raw=stats.raw is not None)
        acc._state = combine(acc._state, stats)
        return acc

    @classmethod
    def with_frame(cls, stats: ShellStats, *, store_raw: bool = False) -> ShellAccumulator:
        """An empty accumulator in the frame (and histogram edges) of ``stats``.

        Lets another machine sample new batch ids of the same shell; its statistics can later be
        combined with ``stats`` by :func:`merge`, which requires identical frames.
        """
        acc = cls(stats.alpha, len(stats.mean), store_raw=store_raw)
        frame = tuple(np.array(a, dtype=float) for a in frame_of(stats))
        acc._edges = np.array(stats.hist_edges, dtype=float)
        acc._state = empty_stats(stats.alpha, frame, acc._edges, store_raw=store_raw)
        return acc

    @property
    def frame_fixed(self) -> bool:
        return self._state is not None

    @property
    def count(self) -> int:
        """Samples merged so far, including batches buffered while the frame is not fixed."""
        buffered = sum(b.D.shape[0] for b in self._pending)
        return buffered + (self._state.count if self._state is not None else 0)

    @property
    def batch_ids(self) -> list[int]:
        """Ids of merged batches in merge order, including buffered ones."""
        merged = [] if self._state is None else [int(b) for b in self._state.batch_ids]
        return merged + [b.batch_id for b in self._pending]

    def add_batch(
        self,
        batch_id: int,
        D: np.ndarray,
        energies: np.ndarray | None = None,
        measured_ealpha: np.ndarray | None = None,
        inv_kinetic: np.ndarray | None = None,
    ) -> bool:
        """Merge one batch; returns False (and changes nothing) if ``batch_id`` was merged before.

        Args:
            batch_id: integer id of the batch (unique within the shell).
            D: (n, N_D) descriptors, per-atom averages.
            energies: (n,) reference energy per atom above E0_ref, eV/atom.  Give it for every
                batch of a shell or for none.
            measured_ealpha: (n,) measured e^α of each sample, Å² (diagnostic only).
            inv_kinetic: (n,) 1/k of each sample, k the kinetic energy per atom, (eV/atom)⁻¹
                (kinetic flavour; every batch of a shell or none).
        """
        if isinstance(batch_id, bool) or not isinstance(batch_id, (int, np.integer)):
            raise ArchiveError(f"batch id must be an integer, got {batch_id!r}")
        if int(batch_id) in self.batch_ids:
            return False
        batch = self._validate(int(batch_id), D, energies, measured_ealpha, inv_kinetic)
        if batch.measured_ealpha is not None:
            dev = np.max(np.abs(batch.measured_ealpha / np.exp(self.alpha) - 1.0))
            self.ealpha_max_rel_dev = max(self.ealpha_max_rel_dev, float(dev))
        if self._state is not None:
            self._merge_batch(batch)
        else:
            self._pending.append(batch)
            if self.count >= self.pilot_size:
                self._fix_frame(self.pilot_size)
        return True

    def add_batches_sorted(self, batches: Iterable[Batch]) -> int:
        """Merge batches in increasing batch-id order (the merge-order contract); returns how
        many were new."""
        return sum(self.add_batch(*b) for b in sorted(batches, key=lambda b: int(b[0])))

    def _validate(self, batch_id: int, D, energies, measured_ealpha, inv_kinetic=None) -> Batch:
        D = np.asarray(D, dtype=float)
        if D.ndim != 2 or D.shape[1] != self.n_components or D.shape[0] == 0:
            raise ArchiveError(
                f"batch {batch_id}: descriptors must be (n ≥ 1, {self.n_components}), "
                f"got shape {D.shape}"
            )
        if not np.all(np.isfinite(D)):
            raise ArchiveError(
                f"batch {batch_id} of shell α={self.alpha:g} has non-finite descriptors",
                "check the engine output of this batch and re-run it",
            )
        if self.count > 0 and (energies is not None) != self._has_energies():
            raise ArchiveError(
                f"batch {batch_id}: reference energies given for some batches of shell "
                f"α={self.alpha:g} but not for others",
                "pass reference energies for every batch of a shell or for none",
            )
        if self.count > 0 and (inv_kinetic is not None) != self._has_inv_kinetic():
            if inv_kinetic is not None:  # appending to a shell sampled before the record
                raise ArchiveError(
                    f"re-sample: this kinetic archive predates the ⟨1/K⟩ shell record (shell "
                    f"α={self.alpha:g} has {self.count} samples without it)",
                    "sample the kinetic campaign into a new archive",
                )
            raise ArchiveError(
                f"batch {batch_id}: 1/k given for some batches of shell α={self.alpha:g} but "
                "not for others",
                "pass the inverse kinetic energies for every batch of a shell or for none",
            )
        arrays = []
        for name, arr in (("energies", energies), ("measured_ealpha", measured_ealpha),
                          ("inv_kinetic", inv_kinetic)):
            if arr is not None:
                arr = np.asarray(arr, dtype=float).reshape(-1)
                if arr.shape[0] != D.shape[0]:
                    raise ArchiveError(
                        f"batch {batch_id}: {name} has {arr.shape[0]} entries for "
                        f"{D.shape[0]} samples"
                    )
            arrays.append(arr)
        return Batch(batch_id, D, *arrays)

    def _has_energies(self) -> bool:
        if self._pending:
            return self._pending[0].energies is not None
        return self._state is not None and bool(np.isfinite(self._state.energy_mean))

    def _has_inv_kinetic(self) -> bool:
        if self._pending:
            return self._pending[0].inv_kinetic is not None
        return self._state is not None and self._state.inv_kinetic is not None

    def _fix_frame(self, n_pilot: int) -> None:
        pilot = np.concatenate([b.D for b in self._pending])[:n_pilot]
        self.frame_pilot_count = pilot.shape[0]
        frame = fix_frame(pilot)
        self._state = empty_stats(self.alpha, frame, self._edges, store_raw=self.store_raw)
        pending, self._pending = self._pending, []
        for batch in pending:
            self._merge_batch(batch)

    def _merge_batch(self, batch: Batch) -> None:
        frame = frame_of(self._state)
        one = batch_stats(self.alpha, batch, frame, self._edges, store_raw=self.store_raw)
        self._state = combine(self._state, one)

    def to_stats(self, *, force_frame: bool = False) -> ShellStats:
        """The compressed statistics (a copy; the accumulator stays usable).

        Raises:
            ArchiveError: fewer than ``pilot_size`` samples have arrived, so the frame is not
                fixed — unless ``force_frame`` is True: then the frame is fixed for good from the
                buffered samples and ``frame_forced`` is set (record it in the provenance).
        """
        if self._state is None:
            if not force_frame or not self._pending:
                raise ArchiveError(
                    f"shell α={self.alpha:g}: frame not fixed yet ({self.count} of "
                    f"{self.pilot_size} pilot samples)",
                    f"add {self.pilot_size - self.count} more samples, or call "
                    "to_stats(force_frame=True) to fix the frame from the buffered samples",
                )
            self.frame_forced = True
            self._fix_frame(self.count)
        return copy.deepcopy(self._state)
