"""The ``phasetune tune`` step: estimators, metric, targets → tuned θ, written and reported."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..constants import GPA_TO_EV_PER_A3
from ..conventions import Conventions
from ..errors import PhasetuneError
from ..estimator.ddos import DDOSEstimator
from ..estimator.store import check_potential, load_phase_estimators
from ..potentials.linear import LinearPotential
from ..potentials.registry import load_potential
from ..training.dataset import training_frames
from ..training.design import DesignMatrix, design_matrix
from .optimizer import TuneResult, fine_tune
from .provenance import tune_provenance, with_provenance
from .report import build_report, write_outputs
from .spec import TuneSpec
from .targets import DeltaFTarget, ExpansionTarget, VolumeTarget, transition_target


@dataclass
class TuneOutcome:
    """Everything ``phasetune tune`` reports."""

    result: TuneResult
    potential: LinearPotential
    tuned: LinearPotential
    targets: list[DeltaFTarget | VolumeTarget | ExpansionTarget]
    report: dict
    files: dict[str, Path]


def _ev_per_a3(gpa: float | None) -> float | None:
    return None if gpa is None else gpa * GPA_TO_EV_PER_A3


def build_targets(spec: TuneSpec, estimators: dict, potential: LinearPotential
                  ) -> list[DeltaFTarget | VolumeTarget | ExpansionTarget]:
    """Targets of the spec; a ``shift_meV`` is applied to ΔF evaluated at θ0."""
    targets: list[DeltaFTarget | VolumeTarget | ExpansionTarget] = []
    for t in spec.targets:
        if t.transition is not None:
            tr = t.transition
            # |ΔF| ≤ 1 µeV/atom: well below 0.1 K for any realistic entropy difference
            targets.append(transition_target(tr.low, tr.high, tr.T, tolerance=1e-6,
                                             pressure=_ev_per_a3(tr.P)))
        elif t.melting is not None:
            m = t.melting
            if m.liquid in estimators and not estimators[m.liquid].phase_volume.liquid:
                raise PhasetuneError(f"melting target: phase {m.liquid!r} is not a liquid",
                                     "name the liquid phase with liquid: NAME")
            targets.append(transition_target(m.solid, m.liquid, m.T, tolerance=1e-6,
                                             pressure=_ev_per_a3(m.P)))
        elif t.volume is not None:
            v = t.volume
            targets.append(VolumeTarget(v.phase, v.T, _ev_per_a3(v.P), v.value, v.tolerance))
        elif t.expansion is not None:
            e = t.expansion
            targets.append(ExpansionTarget(e.phase, e.T[0], e.T[1], _ev_per_a3(e.P), e.value))
        else:
            d = t.delta_F
            target = DeltaFTarget(d.a, d.b, d.T, 0.0, 1e-3 * d.tolerance_meV,
                                  pressure=_ev_per_a3(d.P))
            if d.shift_meV is not None:
                now = target.evaluate(estimators, potential.theta, potential.beta0())
                target.value = now.residual + 1e-3 * d.shift_meV
            else:
                target.value = 1e-3 * d.value_meV
            targets.append(target)
    return targets


def training_design(spec: TuneSpec, potential: LinearPotential,
                    estimators: dict[str, DDOSEstimator]) -> DesignMatrix:
    reg = spec.regulariser
    frames = training_frames(reg.training, [e.reference for e in estimators.values()],
                             potential, potential.elements[0], reg.n_per_phase)
    return design_matrix(frames, potential.spec, reg.energy_sigma, reg.force_sigma)


def metric_from(spec: TuneSpec, design: DesignMatrix | None, n: int) -> np.ndarray:
    """M: the Gram matrix of the training design (θ block) plus a relative ridge, or a ridge."""
    if spec.regulariser.kind == "ridge" or design is None:
        return np.eye(n)
    gram = design.gram()[1:, 1:]
    metric = np.eye(n)
    idx = np.flatnonzero(design.free)
    block = gram + spec.regulariser.ridge * np.diag(np.diag(gram)).clip(min=1e-300)
    metric[np.ix_(idx, idx)] = block
    return metric


def run_tune(spec: TuneSpec, t_grid: np.ndarray | None = None) -> TuneOutcome:
    """Tune, write the potential, and assemble the report (see :mod:`.report`)."""

    potential = load_potential(spec.potential)
    if not isinstance(potential, LinearPotential):
        raise PhasetuneError(f"{spec.potential} is not a linear (SNAP) potential")
    conventions = Conventions(modes=spec.modes)
    if any(t.pressure() is not None for t in spec.targets):
        from ..pressure.loading import load_pressure_phases

        estimators = load_pressure_phases(spec.archives, conventions=conventions,
                                          degree=spec.degree, route=spec.route)
        for phase in estimators.values():
            for est in phase.estimators:
                check_potential(potential, est.phase_volume)
    else:
        estimators = load_phase_estimators(spec.archives, conventions, spec.degree,
                                           spec.route)
        for est in estimators.values():
            check_potential(potential, est.phase_volume)
    targets = build_targets(spec, estimators, potential)
    design = training_design(spec, potential, estimators)  # metric (gram) and RMSE report
    n_d = len(potential.theta)
    metric = metric_from(spec, design, n_d)
    extra = next(iter(estimators.values())).n_components - n_d  # 1 on kinetic shells (K/N)
    theta0 = np.append(potential.theta, np.ones(extra))
    metric = np.pad(metric, ((0, extra), (0, extra)))  # K/N is fixed: never in the free block
    constraints = None
    if "keep_delta_E0" in spec.constraints:
        names = list(estimators)
        constraints = np.stack([estimators[b].d0 - estimators[names[0]].d0 for b in names[1:]])
    beta0 = potential.beta0()
    result = fine_tune(estimators, theta0, targets, metric, constraints=constraints,
                       trust_radius=spec.trust_radius or np.inf, max_iter=spec.max_iter,
                       beta0=beta0)
    tuned = potential.with_theta(result.theta[:n_d], name=spec.name or f"{potential.name}_tuned")
    provenance = tune_provenance(spec.potential, potential, spec.archives, targets,
                                 spec.regulariser.kind, result.relative_change, result.converged)
    tuned = with_provenance(tuned, provenance)
    grid = t_grid if t_grid is not None else np.arange(100.0, 4001.0, 50.0)
    report = build_report(spec, estimators, potential, tuned, targets, result, design, grid)
    report["provenance"] = provenance
    files = write_outputs(spec.output, tuned, report, result, targets)
    return TuneOutcome(result, potential, tuned, targets, report, files)
