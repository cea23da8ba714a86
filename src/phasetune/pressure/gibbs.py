"""G(θ, P, T) = min_V [F(θ, V, T) + P·V] per atom, and what follows from it (method.md §8,
Pressure).

From the per-volume predictions of one phase (a
:class:`~phasetune.estimator.prediction.Prediction` or anything with ``F_total``, ``sigma_F``,
``entropy``, ``solved`` and optionally ``D_star``) and the fitted surface of
:mod:`~phasetune.pressure.surface`, for every pressure P, temperature T and model:

* V*(P, T) solves ∂F/∂V = −P inside the sampled range (safeguarded Newton);
* G = F(V*) + PV*;  S = s(V*) (= −∂G/∂T at fixed P);  H = G + TS;
* B_T = V* ∂²F/∂V²;  α_V = (∂s/∂V)/B_T (from ∂V*/∂T = (∂s/∂V)/(∂²F/∂V²));
* C_P = C_V + T(∂s/∂V)²/(∂²F/∂V²), C_V = T ∂s/∂T at V* (from per-volume ∂s/∂T when given, e.g.
  by :meth:`~phasetune.pressure.phase.PressurePhase.predict` with ``heat_capacity=True``; NaN
  otherwise);
* ∂G/∂θ = D*(V*) = Σ_i w_i(V*) D*_i, exact for the surface (envelope theorem), and
  ∂V*/∂θ = −(Σ_i w′_i(V*) D*_i)/(∂²F/∂V²) by implicit differentiation of ∂F/∂V = −P;
* σ_G = R (Σ_i w_i(V*)² σ_i²)^{1/2} and σ_V* = R (Σ_i (w′_i(V*)/F″)² σ_i²)^{1/2} with R the
  Birge ratio of the fit.

Sampled volumes whose estimate is unsolved at a (T, model) are left out of that point's surface
(the fit uses the solved ones, ``volumes_used`` counts them): the point stays solved when at least
three remain and V* lies between them.  A point is not solved (status bits below) when fewer
remain or V* lies beyond the solved volumes, when V* would leave the sampled volumes, or when
∂²F/∂V² ≤ 0 at V* or anywhere between the volumes (mechanically unstable: no unique minimum).
Where no V* exists inside the volumes every output is NaN: never an extrapolated number.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..constants import GPA_TO_EV_PER_A3
from ..cores import available_cores
from ..errors import PhasetuneError
from .surface import VolumeBasis

MIN_THREAD_COLUMNS = 4096  # (T, model) columns per thread below which one thread is faster
VOLUME_UNSOLVED = 16
"""Too few sampled volumes are solved at this (T, model), or V* lies beyond the solved ones
(but inside the sampled range)."""
BELOW_RANGE = 32
"""V* lies below the smallest sampled volume: the pressure is above the sampled range."""
ABOVE_RANGE = 64
"""V* lies above the largest sampled volume: the pressure is below the sampled range."""
UNSTABLE = 128
"""∂²F/∂V² ≤ 0 at V* or between the sampled volumes (negative bulk modulus)."""

REASONS = {
    VOLUME_UNSOLVED: "too few sampled volumes are solved here, or V* lies beyond the solved ones",
    BELOW_RANGE: "V* would lie below the smallest sampled volume (pressure above the sampled "
                 "range): sample smaller volumes",
    ABOVE_RANGE: "V* would lie above the largest sampled volume (pressure below the sampled "
                 "range): sample larger volumes",
    UNSTABLE: "d2F/dV2 <= 0 within the sampled volumes (negative bulk modulus: mechanically "
              "unstable, no unique equilibrium volume)",
}
CONVEXITY_POINTS = 17
"""Points between the smallest and largest volume where ∂²F/∂V² > 0 is checked."""
MIN_VOLUMES = 3
"""Fewest solved volumes a surface is fitted to (a straight line in x has no minimum)."""
NEWTON_ITERATIONS = 60
VOLUME_TOL = 1e-10
"""Relative volume tolerance of the V* solve."""


class VolumePrediction(Protocol):
    """What :func:`gibbs` needs of one volume's prediction (arrays (n_T, n_models))."""

    F_total: np.ndarray
    sigma_F: np.ndarray
    entropy: np.ndarray
    solved: np.ndarray
    D_star: np.ndarray | None


@dataclass
class GibbsPrediction:
    """G(θ, P, T) per atom of one phase; arrays (n_P, n_T, n_models) unless stated.

    Attributes:
        pressures: (n_P,) eV/Å³.
        temperatures: (n_T,) K.
        G: Gibbs free energy, eV/atom.
        sigma_G: its standard error (widened by the surface's Birge ratio), eV/atom.
        volume: V*, Å³/atom;  sigma_volume: its standard error, Å³/atom.
        entropy: S, eV/K/atom;  enthalpy: H = G + TS, eV/atom.
        bulk_modulus: isothermal B_T, eV/Å³.
        expansion: volumetric thermal expansion α_V, 1/K.
        heat_capacity: C_P, eV/K/atom (NaN unless per-volume ∂s/∂T were given).
        solved: no status bit set.
        status: bits of VOLUME_UNSOLVED, BELOW_RANGE, ABOVE_RANGE, UNSTABLE.
        volume_solved: (n_V, n_T, n_models) solved flags of the per-volume estimates.
        volumes_used: (n_T, n_models) how many (solved) volumes the surface was fitted to.
        volume_gradient: optional (n_P, n_T, n_models, N_D) ∂V*/∂θ, Å³/atom per θ unit (with
            ``D_star``).
        D_star: optional (n_P, n_T, n_models, N_D) exact ∂G/∂θ.
        birge: (n_T, n_models) lack-of-fit ratio of the F(V) surface (≥ 1).
        volumes: (n_V,) sampled volumes, Å³/atom.
        degree: polynomial degree of the surface.
        conventions: the conventions dict of the per-volume predictions.
    """

    pressures: np.ndarray
    temperatures: np.ndarray
    G: np.ndarray
    sigma_G: np.ndarray
    volume: np.ndarray
    sigma_volume: np.ndarray
    entropy: np.ndarray
    enthalpy: np.ndarray
    bulk_modulus: np.ndarray
    expansion: np.ndarray
    heat_capacity: np.ndarray
    solved: np.ndarray
    status: np.ndarray
    birge: np.ndarray
    volumes: np.ndarray
    degree: int
    conventions: dict = field(default_factory=dict)
    D_star: np.ndarray | None = None
    volume_solved: np.ndarray | None = None
    volumes_used: np.ndarray | None = None
    volume_gradient: np.ndarray | None = None

    def reasons(self, p: int, t: int, m: int) -> list[str]:
        """Why (pressure p, temperature t, model m) is not solved, in words."""
        code = int(self.status[p, t, m])
        out = []
        for bit, text in REASONS.items():
            if code & bit and bit == VOLUME_UNSOLVED and self.volume_solved is not None:
                bad = self.volumes[~self.volume_solved[:, t, m]]
                text = (f"the free energy is not solved at the sampled volume(s) "
                        f"{', '.join(f'{v:g}' for v in bad)} Å³/atom (see predict without -P): "
                        f"too few solved volumes remain, or V* lies beyond them")
            if code & bit:
                out.append(text)
        return out

    def at(self, p: int) -> AtPressure:
        """The isobar P = pressures[p], with the attribute names of a Prediction."""
        return AtPressure(self, p)

    def to_dict(self) -> dict:
        """JSON-ready dict; pressures in GPa, B_T in GPa, as the CLI prints them."""
        keys = ("G", "sigma_G", "volume", "sigma_volume", "entropy", "enthalpy", "expansion",
                "heat_capacity", "solved", "status", "D_star")
        out = {k: np.asarray(getattr(self, k)).tolist() for k in keys
               if getattr(self, k) is not None}
        out.update(
            pressures_GPa=(self.pressures / GPA_TO_EV_PER_A3).tolist(),
            temperatures=self.temperatures.tolist(),
            bulk_modulus_GPa=(self.bulk_modulus / GPA_TO_EV_PER_A3).tolist(),
            birge=self.birge.tolist(), sampled_volumes=self.volumes.tolist(),
            volumes_used=None if self.volumes_used is None else self.volumes_used.tolist(),
            volume_degree=self.degree, shape="(n_P, n_T, n_models)",
            units={"G": "eV/atom", "enthalpy": "eV/atom", "entropy": "eV/K/atom",
                   "volume": "Å³/atom", "expansion": "1/K", "heat_capacity": "eV/K/atom",
                   "pressures_GPa": "GPa", "bulk_modulus_GPa": "GPa", "temperatures": "K"},
            status_bits={str(b): text for b, text in REASONS.items()},
            conventions=self.conventions)
        return out


class AtPressure:
    """One isobar of a :class:`GibbsPrediction` seen as a Prediction (F_total = G, sigma_F = σ_G,
    entropy = S, D_star = ∂G/∂θ), so that ΔG, T_c and ensembles at fixed pressure reuse the
    fixed-volume code of :mod:`phasetune.phases`.  Arrays (n_T, n_models)."""

    def __init__(self, gibbs: GibbsPrediction, p: int):
        self.gibbs, self.p = gibbs, p
        self.pressure = float(gibbs.pressures[p])
        self.temperatures = gibbs.temperatures
        self.conventions = gibbs.conventions
        self.F_total = gibbs.G[p]
        self.sigma_F = gibbs.sigma_G[p]
        self.entropy = gibbs.entropy[p]
        self.solved = gibbs.solved[p]
        self.status = gibbs.status[p]
        self.volume = gibbs.volume[p]
        self.alpha_star = np.full(self.F_total.shape, np.nan)
        self.D_star = None if gibbs.D_star is None else gibbs.D_star[p]

    def reasons(self, t: int, m: int) -> list[str]:
        return self.gibbs.reasons(self.p, t, m)


def _stack(predictions, name: str) -> np.ndarray:
    return np.stack([np.asarray(getattr(p, name), dtype=float) for p in predictions])


def _solve_volume(basis: VolumeBasis, coef: np.ndarray, pressures: np.ndarray) \
        -> tuple[np.ndarray, np.ndarray]:
    """V* with ∂F/∂V(V*) = −P, (n_P, n_T, n_m), and the out-of-range bits.

    The slopes at the sampled volumes bracket the root between two neighbours (F convex; other
    points are flagged by the caller); a secant start and safeguarded Newton on the flattened
    points refine it, iterating only on those not yet converged."""
    shape = (pressures.size, *coef.shape[1:])
    cols = coef.reshape(coef.shape[0], -1)
    n_cols = cols.shape[1]
    nodes = basis.volumes
    node_slopes = basis.basis(nodes, 1) @ cols          # ∂F/∂V at the volumes, (n_V, n_cols)
    v = np.empty((pressures.size, n_cols))
    lo, hi = np.empty_like(v), np.empty_like(v)
    status = np.zeros(v.shape, dtype=np.int64)
    cols_idx = np.arange(n_cols)
    for i, press in enumerate(pressures):
        g = node_slopes + press                          # ∂(F + PV)/∂V at the volumes
        k = np.clip(np.count_nonzero(g < 0, axis=0), 1, nodes.size - 1)
        status[i] = np.where(g[0] > 0, BELOW_RANGE, 0) | np.where(g[-1] < 0, ABOVE_RANGE, 0)
        g0, g1 = g[k - 1, cols_idx], g[k, cols_idx]
        lo[i], hi[i] = nodes[k - 1], nodes[k]
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.clip(np.where(g1 != g0, -g0 / (g1 - g0), 0.5), 0.0, 1.0)
        v[i] = np.where(g[0] > 0, nodes[0], np.where(g[-1] < 0, nodes[-1],
                                                     lo[i] + frac * (hi[i] - lo[i])))
    v, lo, hi, status = v.ravel(), lo.ravel(), hi.ravel(), status.ravel()
    p = np.repeat(pressures, n_cols)
    idx = np.flatnonzero(status == 0)
    lo, hi = lo[idx], hi[idx]
    for _ in range(NEWTON_ITERATIONS):
        if idx.size == 0:
            break
        vi, ci = v[idx], cols[:, idx % n_cols]
        slope, curv = basis.slopes(ci, vi)
        g = slope + p[idx]
        lo = np.where(g < 0, vi, lo)
        hi = np.where(g >= 0, vi, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            new = vi - g / curv
        new = np.where((curv > 0) & (new > lo) & (new < hi), new, 0.5 * (lo + hi))
        v[idx] = new
        keep = np.abs(new - vi) > VOLUME_TOL * vi
        idx, lo, hi = idx[keep], lo[keep], hi[keep]
    return v.reshape(shape), status.reshape(shape)


def gibbs(volumes, predictions, pressures, *, degree: int | None = None,
          conventions: dict | None = None, entropy_slope=None,
          threads: int | None = None) -> GibbsPrediction:
    """G(θ, P, T) of one phase from its predictions at the sampled volumes.

    Args:
        volumes: (n_V,) volumes per atom of the predictions, Å³/atom (any order).
        predictions: n_V per-volume predictions on the same temperatures and models, arrays
            (n_T, n_models) (``D_star`` present in all or none).
        pressures: (n_P,) eV/Å³.
        degree: degree of the F(V) polynomial (default :func:`~.surface.default_degree`).
        conventions: recorded in the result (default: the first prediction's).
        entropy_slope: optional n_V arrays (n_T, n_models) of ∂s/∂T at each volume, eV/K²/atom;
            without them C_V (and so C_P) is NaN rather than a coarse-grid difference.
        threads: threads over (T, model) columns (default: the usable cores).

    Returns:
        :class:`GibbsPrediction` with (n_P, n_T, n_models) arrays.
    """
    v_in = np.asarray(volumes, dtype=float)
    if len(predictions) != v_in.size:
        raise PhasetuneError(f"{v_in.size} volumes but {len(predictions)} predictions")
    order = np.argsort(v_in)
    preds = [predictions[i] for i in order]
    basis = VolumeBasis.from_volumes(v_in[order], degree)
    temps = np.asarray(preds[0].temperatures, dtype=float)
    for p in preds[1:]:
        if not np.array_equal(np.asarray(p.temperatures, dtype=float), temps):
            raise PhasetuneError("per-volume predictions were made at different temperatures")
    pres = np.atleast_1d(np.asarray(pressures, dtype=float))
    if pres.ndim != 1 or not np.all(np.isfinite(pres)):
        raise PhasetuneError(f"pressures must be a 1-d array of finite values, got {pres}")
    n_v, (n_t, n_m) = basis.n_volumes, np.shape(preds[0].F_total)
    n_c = n_t * n_m

    def columns(name, values=None):
        arr = _stack(preds, name) if values is None else np.stack(
            [np.asarray(values[i], dtype=float) for i in order])
        return arr.reshape(n_v, n_c, *arr.shape[3:])

    data = {"f": columns("F_total"), "sig": columns("sigma_F"), "s": columns("entropy"),
            "st": None if entropy_slope is None else columns("", entropy_slope),
            "d": None if preds[0].D_star is None else columns("D_star")}
    volume_solved = _stack(preds, "solved").astype(bool)
    flags = volume_solved.reshape(n_v, n_c)
    t_col = np.repeat(temps, n_m)
    out = {k: np.full((pres.size, n_c), np.nan) for k in _FIELDS}
    status = np.full((pres.size, n_c), VOLUME_UNSOLVED, dtype=np.int64)
    birge = np.full(n_c, np.nan)
    used = np.zeros(n_c, dtype=np.int64)
    n_d = None if data["d"] is None else data["d"].shape[-1]
    d_star = None if n_d is None else np.full((pres.size, n_c, n_d), np.nan)
    dv_dtheta = None if n_d is None else np.full((pres.size, n_c, n_d), np.nan)
    codes = (flags * (1 << np.arange(n_v))[:, None]).sum(axis=0)
    for code in np.unique(codes):
        cols = np.flatnonzero(codes == code)
        keep = flags[:, cols[0]]
        n_keep = int(keep.sum())
        if n_keep < min(MIN_VOLUMES, n_v):
            continue                      # too few solved volumes: VOLUME_UNSOLVED, NaN
        sub = basis if n_keep == n_v else VolumeBasis.from_volumes(
            basis.volumes[keep], None if degree is None else min(int(degree), n_keep - 1))
        block = _blocks(sub, {k: None if v is None else v[keep][:, cols]
                              for k, v in data.items()}, pres, t_col[cols], threads)
        st = block.pop("status")
        if n_keep < n_v:  # V* beyond the solved volumes but not beyond the sampled ones
            below = ((st & BELOW_RANGE) != 0) & (sub.v_min > basis.v_min)
            above = ((st & ABOVE_RANGE) != 0) & (sub.v_max < basis.v_max)
            st = np.where(below | above, VOLUME_UNSOLVED, st)
        status[:, cols] = st
        birge[cols] = block.pop("birge")
        used[cols] = n_keep
        if d_star is not None:
            d_star[:, cols] = block.pop("D_star")
            dv_dtheta[:, cols] = block.pop("volume_gradient")
        for k in _FIELDS:
            out[k][:, cols] = block[k]
    shape = (pres.size, n_t, n_m)
    o = {k: v.reshape(shape) for k, v in out.items()}
    return GibbsPrediction(
        pressures=pres, temperatures=temps, G=o["G"], sigma_G=o["sigma_G"], volume=o["volume"],
        sigma_volume=o["sigma_volume"], entropy=o["entropy"], enthalpy=o["enthalpy"],
        bulk_modulus=o["bulk_modulus"], expansion=o["expansion"],
        heat_capacity=o["heat_capacity"], solved=(status == 0).reshape(shape),
        status=status.reshape(shape), birge=birge.reshape(n_t, n_m), volumes=basis.volumes,
        degree=basis.degree,
        conventions=conventions if conventions is not None
        else dict(getattr(preds[0], "conventions", {}) or {}),
        D_star=None if d_star is None else d_star.reshape(*shape, n_d),
        volume_solved=volume_solved, volumes_used=used.reshape(n_t, n_m),
        volume_gradient=None if dv_dtheta is None else dv_dtheta.reshape(*shape, n_d))


_FIELDS = ("G", "sigma_G", "volume", "sigma_volume", "entropy", "enthalpy", "bulk_modulus",
           "expansion", "heat_capacity")


def _blocks(basis: VolumeBasis, data: dict, pres: np.ndarray, temps: np.ndarray,
            threads: int | None) -> dict:
    """:func:`_block` over column chunks on ``threads`` threads (columns are independent and
    the numpy kernels release the GIL); the same arrays as one call."""
    n_c = temps.size
    n_chunks = min(threads or available_cores(), max(1, n_c // MIN_THREAD_COLUMNS))
    if n_chunks <= 1:
        return _block(basis, data, pres, temps)
    bounds = np.linspace(0, n_c, n_chunks + 1).astype(int)
    parts = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    with ThreadPoolExecutor(n_chunks) as pool:
        blocks = list(pool.map(lambda sl: _block(
            basis, {k: None if v is None else v[:, sl] for k, v in data.items()},
            pres, temps[sl]), parts))
    return {k: np.concatenate([b[k] for b in blocks], axis=-1 if k == "birge" else 1)
            for k in blocks[0]}


def _block(basis: VolumeBasis, data: dict, pres: np.ndarray, temps: np.ndarray) -> dict:
    """Every output for columns sharing one set of volumes: data arrays (n_V, n_c[, N_D]),
    temps (n_c,); returns (n_P, n_c[, N_D]) arrays, ``status``, ``birge`` (n_c,)."""
    f, sig, s, st, d = (data[k] for k in ("f", "sig", "s", "st", "d"))
    coef_f, coef_s = basis.coefficients(f), basis.coefficients(s)
    birge = basis.birge_ratio(f, sig)
    # convexity between the volumes, independent of P
    grid = np.linspace(basis.v_min, basis.v_max, CONVEXITY_POINTS)
    convex = np.all(basis.basis(grid, 2) @ coef_f > 0, axis=0)
    v_star, status = _solve_volume(basis, coef_f, pres)
    phi0 = basis.basis(v_star)                          # (n_P, n_c, d + 1)
    phi1 = basis.basis(v_star, 1)
    curv = np.einsum("pck,kc->pc", basis.basis(v_star, 2), coef_f)
    # one diagnosis per point: a non-convex surface has no meaningful "pressure range"
    status = np.where((curv <= 0) | ~convex[None], UNSTABLE, status)
    f_star = np.einsum("pck,kc->pc", phi0, coef_f)
    s_star = np.einsum("pck,kc->pc", phi0, coef_s)
    s_v = np.einsum("pck,kc->pc", phi1, coef_s)
    # Var of φ·c with c = A⁺F and independent F_i: φᵀ A⁺ diag(σ²) A⁺ᵀ φ
    sig2 = sig**2          # an unknown σ_i (NaN, e.g. the cumulant route) leaves σ_G unknown
    cov = np.einsum("ki,ic,li->ckl", basis.pinv, sig2, basis.pinv)
    var_f = np.einsum("pck,ckl,pcl->pc", phi0, cov, phi0)
    var_fv = np.einsum("pck,ckl,pcl->pc", phi1, cov, phi1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma_v = birge * np.sqrt(np.maximum(var_fv, 0.0)) / np.abs(curv)
        dvdt = s_v / curv
        bulk = v_star * curv
    if st is not None:
        c_v = temps * np.einsum("pck,kc->pc", phi0, basis.coefficients(st))
    else:
        c_v = np.full(v_star.shape, np.nan)
    # no equilibrium volume in the sampled range: no number at all (flagged points keep theirs)
    nan = np.where(((status & (BELOW_RANGE | ABOVE_RANGE)) != 0) | (curv <= 0)
                   | (v_star <= basis.v_min) | (v_star >= basis.v_max), np.nan, 1.0)
    g = (f_star + pres[:, None] * v_star) * nan
    out = {"G": g, "sigma_G": birge * np.sqrt(np.maximum(var_f, 0.0)) * nan,
           "volume": v_star * nan, "sigma_volume": sigma_v * nan, "entropy": s_star * nan,
           "enthalpy": g + temps * s_star, "bulk_modulus": bulk * nan,
           "expansion": dvdt / v_star * nan, "heat_capacity": (c_v + temps * s_v * dvdt) * nan,
           "status": status, "birge": birge}
    if d is not None:
        coef_d = basis.coefficients(d)                   # (d + 1, n_c, N_D)
        out["D_star"] = np.einsum("pck,kcd->pcd", phi0, coef_d) * nan[..., None]
        # ∂F/∂V(V*; θ) = −P  ⇒  ∂V*/∂θ = −(∂D*/∂V)/(∂²F/∂V²)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["volume_gradient"] = (-np.einsum("pck,kcd->pcd", phi1, coef_d)
                                      / curv[..., None] * nan[..., None])
    return out
