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

REASONS = {
    ALPHA_LOW: "alpha* below the sampled shells (append lower shells)",
    ALPHA_HIGH: "alpha* above the sampled shells (append higher shells)",
    CLAMPED: "tilted maximiser clamped at a sampled support edge (theta too far from reference)",
    NOT_CONVERGED: "alpha saddle not converged",
}


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
        """Why (temperature index t, model m) is not solved (empty if solved)."""
        code = int(self.status[t, m])
        return [text for bit, text in REASONS.items() if code & bit]

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
