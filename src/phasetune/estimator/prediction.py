"""Estimator output (method.md §7 per-call step 9) and the ``solved`` status bits."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ALPHA_LOW = 1
"""α* lies in the lower outer half-interval of the shell grid (T below the sampled shells)."""
ALPHA_HIGH = 2
"""α* lies in the upper outer half-interval of the shell grid (T above the sampled shells)."""
CLAMPED = 4
"""A component's maximiser x* hit a support edge on a shell bracketing α*."""
NOT_CONVERGED = 8
"""Newton on α did not converge (f″ ≤ 0 or no stationary point near the dense minimum)."""
LEFT_BASIN = 32
"""The potential's crystal left its basin in MD at or below this temperature
(``phasetune basin``; set by :func:`phasetune.ti.basin_scan.refuse_left_basin`)."""
LOW_SUPPORT = 16
"""With the joint correction: too few effective samples of the tilted shell densities at α*
(replaces CLAMPED, which then only counts pairs)."""

REASONS = {
    ALPHA_LOW: "alpha* in the lower outer half-interval of the shell grid (below the middle of "
               "the two lowest shells)",
    ALPHA_HIGH: "alpha* in the upper outer half-interval of the shell grid (above the middle of "
                "the two highest shells)",
    CLAMPED: "tilted maximiser x* at the edge of the sampled range of a descriptor component on "
             "a shell bracketing alpha* (the tilt by theta at this T is steeper than the "
             "sampled log-density anywhere on that range)",
    NOT_CONVERGED: "alpha saddle not converged (Newton on f(alpha) found no stationary point "
                   "with f'' > 0)",
    LEFT_BASIN: "the crystal left its basin in MD at or below this temperature (phasetune "
                "basin): melted or transformed, so no free energy of this phase exists here",
    LOW_SUPPORT: "too few effective samples of the tilted shell densities at alpha* (joint "
                 "correction): the samples do not reach the configurations that dominate at "
                 "this temperature",
}
"""The status bits in words (also in the JSON as ``status_bits``); :meth:`Prediction.reasons`
says more for each point, from α*, T_α* and the shell grid."""


def _edge_reason(side: str, alpha: float, alpha_h: float, edge: float, bound: float) -> str:
    """Why α* is in the outer half-interval on ``side`` ("upper"/"lower"), in words.

    ``alpha_h``: this temperature's harmonic shell ln(r k_B T/ω̄); ``edge``: the outermost shell;
    ``bound``: the middle of the two outermost shells (α* beyond it is flagged)."""
    up = side == "upper"
    where = f"alpha* = {alpha:.3f} lies {'above' if up else 'below'} the middle of the two " \
            f"{'highest' if up else 'lowest'} shells ({bound:.3f})"
    beyond = alpha_h >= bound if up else alpha_h <= bound
    if beyond:
        return (f"{where}, and so does this temperature's harmonic shell alpha_H = "
                f"{alpha_h:.3f}: the sampled shells end before it (append "
                f"{'higher' if up else 'lower'} shells: "
                f"{'phasetune sample --t-max, or ' if up else ''}widen "
                f"isosurfaces.temperatures)")
    if abs(alpha - edge) <= 1e-9 * (1.0 + abs(edge)):
        return (f"{where}: f(alpha) has no interior minimum and falls all the way to the "
                f"{'highest' if up else 'lowest'} shell, although this temperature's harmonic "
                f"shell alpha_H = {alpha_h:.3f} lies inside the grid")
    return (f"{where}: the anharmonic shift from this temperature's harmonic shell alpha_H = "
            f"{alpha_h:.3f} carries it there (append {'higher' if up else 'lower'} shells)")


@dataclass
class Prediction:
    """Free energies for n_models × n_T, arrays shaped (n_T, n_models) unless stated.

    Attributes:
        temperatures: (n_T,) K.
        F_total: β0 + θ·D0 + F_vib, eV/atom.
        F_vib: vibrational free energy (→ 0 as T → 0), eV/atom.
        sigma_F: score-matching standard error of F (method.md §7.8), widened by the α
            smoother's lack of fit (Birge ratio, :mod:`~phasetune.estimator.saddle`), eV/atom
            (NaN for the cumulant route).
        alpha_star: saddle shell label α*.
        T_alpha_star: ω̄e^{α*}/(r k_B), K.
        entropy: s = −∂F/∂T, eV/K/atom.
        solved: True when α* is interior and no component on the bracketing shells is clamped.
        status: bit set of ALPHA_LOW, ALPHA_HIGH, CLAMPED, NOT_CONVERGED (0 when solved).
        n_clamped: clamped (shell, component) pairs on the two shells bracketing α*.
        D_star: optional (n_T, n_models, N_D) exact gradient ∂F_total/∂θ = ⟨D⟩_{θ,T}.
        hessian: optional (n_T, n_models, N_D, N_D) ∂²F_total/∂θ∂θᵀ, eV⁻¹ per feature².
        conventions: the conventions dict (method.md §3).
        route: ``"score"`` or ``"cumulant"``.
        info: extra diagnostics (e.g. how many pairs took the exact table path).
    """

    temperatures: np.ndarray
    F_total: np.ndarray
    F_vib: np.ndarray
    sigma_F: np.ndarray
    alpha_star: np.ndarray
    T_alpha_star: np.ndarray
    entropy: np.ndarray
    solved: np.ndarray
    status: np.ndarray
    n_clamped: np.ndarray
    conventions: dict
    route: str = "score"
    D_star: np.ndarray | None = None
    hessian: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return self.F_total.shape

    def reasons(self, t: int, m: int) -> list[str]:
        """Why (temperature index t, model m) is not solved, in words (empty if solved)."""
        code = int(self.status[t, m])
        texts = [text for bit, text in REASONS.items() if code & bit]
        grid = self.info.get("alpha_grid")  # [lowest shell, low bound, high bound, highest]
        alpha, t_alpha = float(self.alpha_star[t, m]), float(self.T_alpha_star[t, m])
        if grid is None or not (np.isfinite(alpha) and t_alpha > 0):
            return texts
        alpha_h = alpha + float(np.log(self.temperatures[t] / t_alpha))  # ln(r k_B T/ω̄)
        out = []
        for bit, text in zip((b for b in REASONS if code & b), texts, strict=True):
            if bit == ALPHA_LOW:
                text = _edge_reason("lower", alpha, alpha_h, grid[0], grid[1])
            elif bit == ALPHA_HIGH:
                text = _edge_reason("upper", alpha, alpha_h, grid[3], grid[2])
            elif bit == CLAMPED:
                n = int(self.n_clamped[t, m])
                text = (f"{n} (shell, descriptor component) pair(s) on the shells bracketing "
                        f"alpha* have their tilted maximiser x* at the edge of the sampled "
                        f"range: the tilt by theta at {self.temperatures[t]:g} K is steeper "
                        f"than the sampled log-density anywhere on that range, so the tilted "
                        f"density peaks beyond the samples")
            elif bit == LEFT_BASIN:
                basin = self.info.get("basin", {})
                text = (f"in MD this crystal left its basin at {basin.get('left_at', '?'):g} K "
                        f"(phasetune basin): {basin.get('message')}")
            elif bit == LOW_SUPPORT:
                ess = self.info.get("saddle_ess")
                n_eff = "" if ess is None else f"{float(np.asarray(ess)[t, m]):.1f} "
                text = (f"only {n_eff}effective samples of the tilted shell densities at "
                        f"alpha* (joint correction; at least {self.info.get('ess_min', '?')} "
                        f"needed): sample more on the shells near T_alpha* = {t_alpha:.0f} K")
            out.append(text)
        return out

    def to_dict(self) -> dict:
        """JSON-ready dict (lists; NaN left as float for the caller's encoder)."""
        keys = ("temperatures", "F_total", "F_vib", "sigma_F", "alpha_star", "T_alpha_star",
                "entropy", "solved", "status", "n_clamped", "D_star", "hessian")
        out = {k: np.asarray(getattr(self, k)).tolist() for k in keys
               if getattr(self, k) is not None}
        out.update(units={"F": "eV/atom", "entropy": "eV/K/atom", "temperatures": "K",
                          "alpha_star": "ln(Å²)", "T_alpha_star": "K"},
                   shape="(n_T, n_models)", status_bits={str(b): t for b, t in REASONS.items()},
                   conventions=self.conventions, route=self.route, info=self.info)
        return out
