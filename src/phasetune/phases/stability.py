"""Free energies of several phases for one θ: ΔF between every pair (with σ), the stable phase
at each temperature and the transitions (method.md §8, ΔF and T_c)."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from ..errors import PhasetuneError
from ..estimator.ddos import DDOSEstimator
from ..estimator.prediction import Prediction
from .transitions import Transition, transitions


@dataclass
class PhaseComparison:
    """Result of :func:`compare_phases` for one model.

    Attributes:
        temperatures: (n_T,) K.
        predictions: phase → Prediction (one model).
        delta: "B-A" → (ΔF (n_T,), σ_ΔF (n_T,), solved (n_T,)), eV/atom.
        stable: (n_T,) name of the lowest-F phase where every phase is solved ("" elsewhere).
        transitions: every T_c (or bound) between each pair of phases.
    """

    temperatures: np.ndarray
    predictions: dict[str, Prediction]
    delta: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)
    stable: list[str] = field(default_factory=list)
    transitions: dict[str, list[Transition]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        phases = {
            name: {"F": p.F_total[:, 0], "sigma_F": p.sigma_F[:, 0], "solved": p.solved[:, 0],
                   "entropy": p.entropy[:, 0], "alpha_star": p.alpha_star[:, 0]}
            for name, p in self.predictions.items()
        }
        any_pred = next(iter(self.predictions.values()))
        return {
            "temperatures": self.temperatures,
            "units": {"F": "eV/atom", "entropy": "eV/K/atom", "T": "K", "T_c": "K"},
            "conventions": any_pred.conventions,
            "phases": phases,
            "delta_F": {k: {"dF": v[0], "sigma": v[1], "solved": v[2]}
                        for k, v in self.delta.items()},
            "stable_phase": self.stable,
            "transitions": {k: [t.to_dict() for t in v] for k, v in self.transitions.items()},
        }


def check_same_conventions(estimators: dict[str, DDOSEstimator]) -> None:
    """Phases compared must share mode counting and descriptor length."""
    items = list(estimators.items())
    name0, est0 = items[0]
    for name, est in items[1:]:
        if est.n_components != est0.n_components:
            raise PhasetuneError(
                f"phases {name0} and {name} come from incompatible archives: "
                f"{est0.n_components} vs {est.n_components} descriptor components",
                "sample every phase with the same descriptor spec")
        if est.conventions != est0.conventions:
            raise PhasetuneError(f"phases {name0} and {name} use different conventions")


def compare_phases(estimators: dict[str, DDOSEstimator], theta: np.ndarray,
                   temperatures: np.ndarray, beta0: float | None = None) -> PhaseComparison:
    """ΔF(T), stable phase and transitions for one model θ (N_D,) across ≥ 2 phases."""
    if len(estimators) < 2:
        raise PhasetuneError("phase stability needs at least two phases",
                             "pass archives holding at least two phases")
    check_same_conventions(estimators)
    t = np.sort(np.atleast_1d(np.asarray(temperatures, dtype=float)))
    theta = np.asarray(theta, dtype=float)
    preds = {n: e.predict(theta, t, beta0=beta0) for n, e in estimators.items()}
    result = PhaseComparison(temperatures=t, predictions=preds)
    for a, b in combinations(estimators, 2):
        pa, pb = preds[a], preds[b]
        result.delta[f"{b}-{a}"] = (
            (pb.F_total - pa.F_total)[:, 0],
            np.hypot(pa.sigma_F, pb.sigma_F)[:, 0],
            (pa.solved & pb.solved)[:, 0],
        )
        result.transitions[f"{a}/{b}"] = transitions(estimators[a], estimators[b], theta, t,
                                                     (a, b), beta0)
    names = list(preds)
    f = np.stack([preds[n].F_total[:, 0] for n in names])
    solved = np.stack([preds[n].solved[:, 0] for n in names])
    # a phase is stable only where every phase is solved: an unsolved one might be lower
    every = solved.all(axis=0)
    result.stable = [names[k] if every[i] else "" for i, k in enumerate(np.argmin(f, axis=0))]
    return result
