"""Phases of archives at pressure: every sampled volume of each phase as a PressurePhase."""

from __future__ import annotations

from pathlib import Path

from ..conventions import Conventions
from ..estimator.store import load_phase_estimators
from ..scoring.score_matching import DEFAULT_DEGREE, Degree
from .phase import PressurePhase


def load_pressure_phases(archives: list[Path] | list[str], *,
                         conventions: Conventions | None = None,
                         degree: Degree = DEFAULT_DEGREE, route: str = "score",
                         volume_degree: int | None = None) -> dict[str, PressurePhase]:
    """One :class:`PressurePhase` per phase of the archives (a phase in two archives, or sampled
    at a single volume, is an error naming the fix).  When a liquid is among them, every phase's
    G is its thermodynamic-limit estimate (:meth:`PressurePhase.thermodynamic_limit`), so that
    the liquid and crystals of any N compare."""
    estimators = load_phase_estimators([Path(a) for a in archives],
                                       conventions or Conventions(), degree, route,
                                       all_volumes=True)
    liquid = any(ests[0].phase_volume.liquid for ests in estimators.values())
    return {name: PressurePhase(name, ests, volume_degree, limit=liquid)
            for name, ests in estimators.items()}
