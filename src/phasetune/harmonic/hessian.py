"""Finite-difference Hessians of a reference potential (method.md §4.1 steps 2–3).

H[a, :] = −[F(X0 + h ê_a) − F(X0 − h ê_a)] / (2h)   (3N × 3N, eV/Å²), from 6N force calls,
symmetrised, with the acoustic sum rule imposed on the self blocks (H_ii = −Σ_{j≠i} H_ij) and
symmetrised again.  Results are cached on disk, keyed by structure, potential and step.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_write
from ..errors import PhasetuneError
from .modes import translation_basis


@dataclass
class Hessian:
    """A symmetrised Hessian with the acoustic sum rule imposed.

    Attributes:
        matrix: (3N, 3N) eV/Å².
        step: finite-difference step h, Å.
        residual: max |H − Hᵀ| of the raw finite differences, eV/Å² (an accuracy indicator).
        asr_shift: max change made by the acoustic sum rule, eV/Å².
    """

    matrix: np.ndarray
    step: float
    residual: float
    asr_shift: float


def finite_difference_hessian(forces: Callable[[np.ndarray], np.ndarray],
                              positions: np.ndarray, step: float = 1e-3,
                              progress: Callable[[int], None] | None = None) -> Hessian:
    """Central-difference Hessian from a force function.

    Args:
        forces: maps positions (N, 3) Å to forces (N, 3) eV/Å.  Atom order must be fixed.
        positions: X0, (N, 3) Å.
        step: h, Å.
        progress: called with 1 after each displaced pair of force calls.
    """
    if not step > 0:
        raise PhasetuneError(f"Hessian step must be positive, got {step}")
    x0 = np.asarray(positions, dtype=float)
    n3 = x0.size
    raw = np.empty((n3, n3))
    for a in range(n3):
        disp = np.zeros(n3)
        disp[a] = step
        f_plus = forces(x0 + disp.reshape(x0.shape)).ravel()
        f_minus = forces(x0 - disp.reshape(x0.shape)).ravel()
        raw[a] = -(f_plus - f_minus) / (2.0 * step)
        if progress is not None:
            progress(1)
    residual = float(np.max(np.abs(raw - raw.T)))
    sym = 0.5 * (raw + raw.T)
    fixed = impose_acoustic_sum_rule(sym)
    asr_shift = float(np.max(np.abs(fixed - sym)))
    return Hessian(matrix=fixed, step=step, residual=residual, asr_shift=asr_shift)


def impose_acoustic_sum_rule(matrix: np.ndarray) -> np.ndarray:
    """Acoustic sum rule: each 3×3 self block set to minus the sum of its row's other blocks,
    then symmetrised (method.md §4.1 step 3).

    The symmetrisation leaves a residual when the new self blocks are not symmetric (tiny for a
    crystal, large for a generic matrix); a final projection P H P with P = I − T Tᵀ (T: the
    orthonormal uniform translations) makes H T = 0 exact while staying symmetric.
    """
    n = matrix.shape[0] // 3
    blocks = (0.5 * (matrix + matrix.T)).reshape(n, 3, n, 3).copy()
    idx = np.arange(n)
    blocks[idx, :, idx, :] = 0.0
    blocks[idx, :, idx, :] = -blocks.sum(axis=2)
    out = blocks.reshape(3 * n, 3 * n)
    out = 0.5 * (out + out.T)
    t = translation_basis(n)
    ht = out @ t
    out = out - ht @ t.T - t @ ht.T + t @ (t.T @ ht) @ t.T
    return 0.5 * (out + out.T)


def cache_dir() -> Path:
    """Hessian cache directory: ``$PHASETUNE_CACHE`` or ``~/.cache/phasetune``, + /hessians."""
    base = os.environ.get("PHASETUNE_CACHE") or Path.home() / ".cache" / "phasetune"
    return Path(base) / "hessians"


def cache_key(cell: np.ndarray, positions: np.ndarray, numbers: np.ndarray, masses: np.ndarray,
              potential_sha256: str, step: float) -> str:
    """Hash of everything the Hessian depends on."""
    digest = hashlib.sha256()
    for arr in (cell, positions, numbers, masses):
        digest.update(np.ascontiguousarray(np.round(np.asarray(arr, dtype=float), 10)).tobytes())
    digest.update(potential_sha256.encode())
    digest.update(repr(float(step)).encode())
    return digest.hexdigest()[:32]


def load_cached(key: str) -> Hessian | None:
    path = cache_dir() / f"{key}.npz"
    if not path.exists():
        return None
    try:
        with np.load(path) as data:
            return Hessian(matrix=data["matrix"], step=float(data["step"]),
                           residual=float(data["residual"]), asr_shift=float(data["asr_shift"]))
    except Exception:  # a corrupt cache entry is recomputed, never trusted
        return None


def store_cached(key: str, hessian: Hessian) -> None:
    path = cache_dir() / f"{key}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, sync=False) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, matrix=hessian.matrix, step=hessian.step, residual=hessian.residual,
                 asr_shift=hessian.asr_shift)
