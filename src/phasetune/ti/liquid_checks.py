"""Is it a liquid?  Structure and diffusion checks from positions, in numpy.

Three measures, each cheap for N ≲ 10³ atoms:

* **Bond order** (Steinhardt q6, ten Wolde–Ruiz-Montero–Frenkel connections).  For every atom,
  q6m(i) = Σ_j Y6m(r̂_ij)/n_i over the neighbours within r_c = 1.45 v^{1/3} (v = volume per
  atom: bcc keeps its 14 first + second neighbours, fcc/hcp their 12, and a liquid's first
  shell fits).  Two neighbours are *connected* when the normalised product
  Re Σ_m q̂6m(i) q̂6m*(j) exceeds 0.7; an atom with ≥ 7 connections is *solid-like*.  The
  solid-like fraction is ≳ 0.9 in a crystal up to melting and a few per cent in a liquid; it
  does not depend on the orientation of the crystal.
* **Structure factor** S(k) = |Σ_j e^{ik·r_j}|²/N at reciprocal vectors of the periodic cell.
  Any crystal that forms in a periodic cell is commensurate with it, so its Bragg peaks lie on
  these vectors: the largest S(k)/N over the window 5.5 ≤ |k|v^{1/3} ≤ 8.5 (the first peaks of
  bcc, fcc, hcp and the liquid) is ≈ e^{−k²⟨u²⟩/3} ~ 0.5–0.9 in a crystal and
  ≈ S̄ ln(n_k)/N in a liquid (n_k vectors, S̄ ≲ 3): decisive for N ≳ 100, not for a few dozen
  atoms, where q6 decides (:func:`sk_threshold`).  At the Bragg vectors of a reference crystal
  (:func:`bragg_vectors`) the mean S(G)/N measures how much of that crystal survives (the
  "solid melted" check).
* **Diffusion** D = lim MSD(t)/6t (Å²/ps) from a trajectory, unwrapped by the minimum image
  between consecutive frames (frames must be closer in time than it takes an atom to cross half
  the cell) and with the centre-of-mass drift removed.  Liquid metals near melting have
  D ≈ 0.1–1 Å²/ps; a crystal's MSD saturates at 2⟨u²⟩ and its D is ≈ 0.  The slope is fitted
  over the second half of the trajectory (after the ballistic and caging regimes), so the
  trajectory must span ≳ 1 ps for a decision.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from ase import Atoms

from ..errors import CrystalMeltedError, LiquidCrystallisedError, PhasetuneError
from ..structures import order
from ..structures.order import (
    K_WINDOW,
    bragg_order,
    reciprocal_vectors,
    structure_factor,
    volume_per_atom,
)

__all__ = ["CrystalMeltedError", "LiquidCrystallisedError", "bragg_order", "bragg_vectors",
           "reciprocal_vectors", "structure_factor"]

NEIGHBOUR_CUTOFF = 1.45
"""q6 neighbour cutoff in units of v^{1/3} (v = volume per atom)."""
CONNECTION = 0.7
"""Normalised q6 product above which two neighbours are connected."""
MIN_CONNECTIONS = 7
"""Connections that make an atom solid-like."""

SOLID_FRACTION_LIQUID = 0.2
"""A liquid has fewer solid-like atoms than this …"""
SOLID_FRACTION_CRYSTAL = 0.5
"""… and a crystal (or a largely crystallised liquid) at least this many."""
SK_CRYSTAL = 0.35
"""max S(k)/N from which a large cell holds a crystal (Bragg peak); small cells need more
(:func:`sk_threshold`)."""
SK_LIQUID_PEAK = 3.0
"""An upper bound of a liquid metal's S(k) at its first peak."""
DIFFUSION_MIN = 0.02
"""Å²/ps: a liquid diffuses faster than this (crystals ≈ 0, liquid metals 0.1–1)."""
MIN_DIFFUSION_TIME = 1.0
"""ps: shortest trajectory whose D is used for a decision."""


# -- structure -------------------------------------------------------------------------------
def _window(cell: np.ndarray, n_atoms: int) -> np.ndarray:
    a = volume_per_atom(cell, n_atoms) ** (1.0 / 3.0)
    return reciprocal_vectors(cell, K_WINDOW[0] / a, K_WINDOW[1] / a)


def max_structure_factor(positions: np.ndarray, cell: np.ndarray) -> float:
    """Largest S(k)/N over the cell's reciprocal vectors in the window :data:`K_WINDOW`."""
    k = _window(cell, len(positions))
    if not len(k):
        return float("nan")
    return float(structure_factor(positions, k).max() / len(positions))


def sk_threshold(cell: np.ndarray, n_atoms: int) -> float:
    """The max S(k)/N that signals a crystal in this cell.

    In a liquid, S(k) at each of the n_k window vectors is exponentially distributed with a
    mean ≤ :data:`SK_LIQUID_PEAK`, so its maximum exceeds S̄(ln n_k + 14) with a probability
    below 10⁻⁶: the threshold is that over N, and at least :data:`SK_CRYSTAL`.  Above 1 (cells
    of a few dozen atoms) S(k) cannot tell and only the q6 fraction decides."""
    n_k = max(len(_window(cell, n_atoms)), 1)
    return max(SK_CRYSTAL, SK_LIQUID_PEAK * (np.log(n_k) + 14.0) / n_atoms)


def bragg_vectors(crystal: Atoms, threshold: float = 0.9) -> np.ndarray:
    """The first Bragg peaks of a perfect crystal (:func:`phasetune.structures.order.
    bragg_vectors` of its positions and cell), (n_G, 3) Å⁻¹."""
    return order.bragg_vectors(crystal.positions, np.array(crystal.cell), threshold)


def _sph_harm6(theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Y_6m(θ, φ) for m = −6…6, (n, 13) complex (θ polar, φ azimuth)."""
    import scipy.special as sp

    m = np.arange(-6, 7)
    if hasattr(sp, "sph_harm_y"):
        return sp.sph_harm_y(6, m[None, :], theta[:, None], phi[:, None])
    return sp.sph_harm(m[None, :], 6, phi[:, None], theta[:, None])  # scipy < 1.15


def solid_fraction(positions: np.ndarray, cell: np.ndarray,
                   cutoff: float | None = None) -> float:
    """Fraction of solid-like atoms by q6 connections (module doc), 0…1.

    Args:
        positions: (N, 3) Å.
        cell: (3, 3) Å, rows a, b, c (periodic in all directions).
        cutoff: neighbour cutoff, Å (default :data:`NEIGHBOUR_CUTOFF`·v^{1/3}).
    """
    from ase.neighborlist import neighbor_list

    positions = np.asarray(positions, dtype=float)
    n = len(positions)
    if cutoff is None:
        cutoff = NEIGHBOUR_CUTOFF * volume_per_atom(cell, n) ** (1.0 / 3.0)
    atoms = Atoms(numbers=np.ones(n, dtype=int), positions=positions, cell=cell, pbc=True)
    i, j, d = neighbor_list("ijD", atoms, cutoff)
    if not len(i):
        return 0.0
    r = np.linalg.norm(d, axis=1)
    theta = np.arccos(np.clip(d[:, 2] / r, -1.0, 1.0))
    phi = np.mod(np.arctan2(d[:, 1], d[:, 0]), 2.0 * np.pi)
    y = _sph_harm6(theta, phi)
    q = np.zeros((n, 13), dtype=complex)
    np.add.at(q, i, y)
    counts = np.bincount(i, minlength=n)
    norm = np.linalg.norm(q, axis=1)
    qhat = np.where(norm[:, None] > 0, q / np.where(norm > 0, norm, 1.0)[:, None], 0.0)
    dot = np.real(np.sum(qhat[i] * np.conj(qhat[j]), axis=1))
    connections = np.bincount(i, weights=(dot > CONNECTION).astype(float), minlength=n)
    return float(np.mean((connections >= MIN_CONNECTIONS) & (counts > 0)))


# -- diffusion -------------------------------------------------------------------------------
def unwrap(frames: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Unwrapped trajectory (n_frames, N, 3) Å: each step is taken as the minimum image."""
    frames = np.asarray(frames, dtype=float)
    cell = np.asarray(cell, dtype=float)
    inv = np.linalg.inv(cell)
    steps = np.diff(frames, axis=0)
    frac = steps @ inv
    steps = (frac - np.round(frac)) @ cell
    return np.concatenate([frames[:1], frames[:1] + np.cumsum(steps, axis=0)])


def mean_squared_displacement(frames: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """MSD(t_k) from the first frame, (n_frames,) Å², COM drift removed, over all atoms."""
    x = unwrap(frames, cell)
    dx = x - x[0]
    dx -= dx.mean(axis=1, keepdims=True)
    return np.mean(np.sum(dx**2, axis=2), axis=1)


def diffusion_coefficient(times: np.ndarray, msd: np.ndarray) -> float:
    """D = slope/6 of MSD(t) over the second half of the times, Å²/ps (NaN for < 3 points)."""
    t = np.asarray(times, dtype=float)
    m = np.asarray(msd, dtype=float)
    half = t >= t[0] + 0.5 * (t[-1] - t[0])
    if half.sum() < 2 or len(t) < 3:
        return float("nan")
    return float(np.polyfit(t[half], m[half], 1)[0] / 6.0)


# -- verdicts --------------------------------------------------------------------------------
@dataclass
class LiquidDiagnostics:
    """Liquid or crystal?  (see the module doc for each measure)

    Attributes:
        solid_fraction: fraction of q6 solid-like atoms (mean over the frames used).
        max_sk: largest S(k)/N in the first-peak window (mean over the frames used).
        bragg_order: mean S(G)/N at a reference crystal's Bragg vectors, or None.
        diffusion: D, Å²/ps, or None (no trajectory).
        duration: trajectory length, ps (0 for one configuration).
        crystalline: the structure holds a crystal (solid-like fraction or a Bragg peak).
        liquid: no crystal, few solid-like atoms, and diffusing when the trajectory is long
            enough to tell.
        reason: why it is not a liquid ("" if it is).
    """

    solid_fraction: float
    max_sk: float
    bragg_order: float | None = None
    diffusion: float | None = None
    duration: float = 0.0
    crystalline: bool = False
    liquid: bool = True
    reason: str = ""
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def is_liquid(positions: np.ndarray, cell: np.ndarray, reference: Atoms | None = None,
              times: np.ndarray | None = None, last: int = 3) -> LiquidDiagnostics:
    """Tell whether a configuration or a trajectory is a liquid.

    Args:
        positions: (N, 3) one configuration, or (n_frames, N, 3) a trajectory, Å.
        cell: (3, 3) periodic cell, Å.
        reference: a crystal of the same cell (e.g. the one the liquid was melted from): its
            Bragg vectors give ``bragg_order``.
        times: (n_frames,) ps of a trajectory (for D).
        last: structure measures are averaged over this many final frames.

    Returns:
        :class:`LiquidDiagnostics`.
    """
    x = np.asarray(positions, dtype=float)
    frames = x[None] if x.ndim == 2 else x
    cell = np.asarray(cell, dtype=float)
    tail = frames[-max(1, last):]
    solid = float(np.mean([solid_fraction(f, cell) for f in tail]))
    sk = float(np.mean([max_structure_factor(f, cell) for f in tail]))
    bragg = None
    if reference is not None:
        g = bragg_vectors(reference)
        bragg = float(np.mean([bragg_order(f, g) for f in tail]))
    diffusion, duration = None, 0.0
    if len(frames) > 1:
        if times is None:
            raise PhasetuneError("a trajectory needs its frame times (ps) for the diffusion check")
        times = np.asarray(times, dtype=float)
        duration = float(times[-1] - times[0])
        diffusion = diffusion_coefficient(times, mean_squared_displacement(frames, cell))
    crystalline = bool(solid >= SOLID_FRACTION_CRYSTAL
                       or sk >= sk_threshold(cell, frames.shape[1]))
    reasons = []
    if crystalline:
        reasons.append(f"crystalline (solid-like fraction {solid:.2f}, largest S(k)/N "
                       f"{sk:.2f})")
    elif solid >= SOLID_FRACTION_LIQUID:
        reasons.append(f"partly solid-like ({100 * solid:.0f} % of the atoms)")
    if diffusion is not None and duration >= MIN_DIFFUSION_TIME and \
            not diffusion > DIFFUSION_MIN:
        reasons.append(f"not diffusing (D = {diffusion:.3g} Å²/ps over {duration:.2g} ps)")
    return LiquidDiagnostics(solid_fraction=solid, max_sk=sk, bragg_order=bragg,
                             diffusion=diffusion, duration=duration, crystalline=crystalline,
                             liquid=not reasons, reason="; ".join(reasons))


def has_melted(positions: np.ndarray, crystal: Atoms) -> dict:
    """The "solid melted" check for crystal runs: the Bragg order of ``crystal`` (same cell)
    and the q6 solid-like fraction of a configuration (N, 3) Å.

    Returns a dict with ``melted`` (no Bragg peak of the crystal left and few solid-like
    atoms), ``bragg_order``, ``solid_fraction`` and ``max_sk``."""
    cell = np.array(crystal.cell)
    d = is_liquid(positions, cell, reference=crystal)
    melted = d.bragg_order < 0.5 * SK_CRYSTAL and d.solid_fraction < SOLID_FRACTION_CRYSTAL
    return {"melted": bool(melted), "bragg_order": d.bragg_order,
            "solid_fraction": d.solid_fraction, "max_sk": d.max_sk}


def check_crystal_intact(positions: np.ndarray, crystal: Atoms, context: str = "") -> dict:
    """Raise :class:`CrystalMeltedError` if ``crystal`` has melted (see :func:`has_melted`)."""
    d = has_melted(positions, crystal)
    if d["melted"]:
        raise CrystalMeltedError(
            f"{context + ': ' if context else ''}the crystal melted (Bragg order "
            f"{d['bragg_order']:.2f}, solid-like fraction {d['solid_fraction']:.2f})",
            "lower the temperature, or use a larger cell (small cells superheat less reliably)")
    return d


# -- guarding MD runs ------------------------------------------------------------------------
class LiquidGuard:
    """Watches the segments of a liquid run and stops one that crystallises.

    Call it after every MD chunk (it stores the frame and fails fast when a Bragg peak appears
    in two consecutive chunks); :meth:`begin` starts a segment's trajectory and :meth:`finish`
    judges it with :func:`is_liquid`.

    Args:
        reference: the crystal the liquid was made from (same cell): its Bragg vectors.
        context: "liquid Mo, 128 atoms, 18.5 Å³/atom at 3200 K (repeat 0)" for messages.
    """

    def __init__(self, reference: Atoms, context: str):
        self.cell = np.array(reference.cell)
        self.reference = reference
        self.context = context
        self.bragg = bragg_vectors(reference)
        self.sk_limit = sk_threshold(self.cell, len(reference))
        self.frames: list[np.ndarray] = []
        self.times: list[float] = []
        self.segment = ""
        self._peaks = 0
        self.history: list[dict] = []

    def begin(self, segment: str) -> None:
        """Start recording the trajectory of ``segment`` (e.g. "the λ = 0.80 node")."""
        self.segment = segment
        self.frames, self.times, self._peaks = [], [], 0

    def __call__(self, md) -> None:  # noqa: ANN001 - any MD with positions() and time
        x = md.positions()
        self.frames.append(x)
        self.times.append(float(md.time))
        sk = max_structure_factor(x, self.cell)
        # a Bragg peak, or (small cells, or a peak below the threshold) a solid-like majority
        suspect = sk >= self.sk_limit or (sk >= SK_CRYSTAL and
                                          solid_fraction(x, self.cell) >= SOLID_FRACTION_CRYSTAL)
        self._peaks = self._peaks + 1 if suspect else 0
        if self._peaks >= 2:
            self._fail(f"crystalline (largest S(k)/N {sk:.2f} in two consecutive checks)")

    def finish(self, strict: bool = True) -> dict:
        """Judge the segment; raise :class:`LiquidCrystallisedError` unless it is a liquid.

        Args:
            strict: also require diffusion (when the segment is long enough); otherwise only a
                crystal stops the run.

        Returns:
            the diagnostics (:meth:`LiquidDiagnostics.to_dict`) with the segment name.
        """
        if not self.frames:
            return {}
        frames = np.array(self.frames)
        times = np.array(self.times) if len(frames) > 1 else None
        d = is_liquid(frames, self.cell, self.reference, times, last=1)
        out = {"segment": self.segment, **d.to_dict()}
        out.pop("extra")
        self.history.append(out)
        if d.crystalline or (strict and not d.liquid):
            self._fail(d.reason)
        return out

    def _fail(self, reason: str) -> None:
        raise LiquidCrystallisedError(
            f"{self.context}: the liquid is no longer liquid during {self.segment}: {reason}",
            "this (T, V) is outside the liquid's range in this cell: raise the temperature or "
            "the volume per atom (small cells crystallise more easily: use more atoms)")

    def summary(self) -> dict:
        """Extremes over the judged segments: smallest D, largest solid-like fraction and
        S(k)/N, and whether every segment was liquid."""
        if not self.history:
            return {}
        ds = [h["diffusion"] for h in self.history if h["diffusion"] is not None
              and h["duration"] >= MIN_DIFFUSION_TIME]
        return {"segments": len(self.history),
                "all_liquid": all(h["liquid"] for h in self.history),
                "min_diffusion": min(ds) if ds else None,
                "max_solid_fraction": max(h["solid_fraction"] for h in self.history),
                "max_sk": max(h["max_sk"] for h in self.history),
                "max_bragg_order": max(h["bragg_order"] for h in self.history)}
