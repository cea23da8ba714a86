"""``phasetune tune`` for non-linear potentials, written back in their own LAMMPS format:

* ``route: reweight`` — the reweighting route, re-sampling frames in LAMMPS when the effective
  sample size runs out (:func:`~.nonlinear.tune_reweighted`).  The phases are ``phasetune
  reweight sample`` configurations (structure, cell, T, MD settings) of the potential θ0; round 0
  samples them (or resumes / reuses their stores), round k re-samples at the last covered θ into
  ``<output>/frames/<phase>_round<k>.h5``.
* ``route: tangent`` — the tangent D-DOS of a ``descriptors.tangent`` archive
  (:class:`~.nonlinear.TangentPhase`), corrected for curvature with optional frames of θ0; no
  sampling.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from ..errors import PhasetuneError
from ..jsonutil import to_jsonable
from ..nonlinear.model import model_for
from ..potentials.registry import load_potential
from ..reweighting.config import load_config
from ..reweighting.predict import load_anchor
from ..reweighting.sampling import sample_frames
from .nonlinear import (
    FUNCTION_RIDGE,
    ReweightedPhase,
    ReweightedTune,
    TangentPhase,
    function_metric,
    tune_reweighted,
)
from .optimizer import TuneResult, fine_tune
from .report import plot_trajectory
from .spec import TuneSpec
from .targets import DeltaFTarget, transition_target


@dataclass
class NonlinearOutcome:
    """What ``phasetune tune`` reports for the non-linear routes."""

    result: ReweightedTune | TuneResult
    report: dict
    files: dict[str, Path]


def function_ridge(spec: TuneSpec) -> float:
    """The relative ridge of the function-space metric: ``regulariser.ridge`` when the YAML sets
    it, else :data:`~.nonlinear.FUNCTION_RIDGE` (the 1e-6 default suits the Gram metric of a
    linear fit, not a network)."""
    reg = spec.regulariser
    return reg.ridge if "ridge" in reg.model_fields_set else FUNCTION_RIDGE


def nonlinear_targets(spec: TuneSpec, phases: dict, theta0: np.ndarray) -> list[DeltaFTarget]:
    """ΔF and transition targets of the spec (others refused): at the frames' temperature for
    the reweighting route."""
    targets = []
    for t in spec.targets:
        if t.transition is not None:
            tr = t.transition
            targets.append(transition_target(tr.low, tr.high, tr.T, tolerance=1e-5))
        elif t.delta_F is not None:
            d = t.delta_F
            target = DeltaFTarget(d.a, d.b, d.T, 0.0, 1e-3 * d.tolerance_meV)
            if d.shift_meV is not None:
                target.value = target.evaluate(phases, theta0).residual + 1e-3 * d.shift_meV
            else:
                target.value = 1e-3 * d.value_meV
            targets.append(target)
        else:
            raise PhasetuneError(f"route {spec.route} takes delta_F and transition targets only",
                                 "use the D-DOS routes for volume, expansion and melting targets")
        if t.pressure() is not None:
            raise PhasetuneError(f"route {spec.route}: targets at pressure are not supported "
                                 "for non-linear potentials yet", "drop P (fixed volume)")
    return targets


def run_tune_reweighted(spec: TuneSpec, progress=None) -> NonlinearOutcome:
    """Frames, anchors, targets and metric → tuned θ, written with its report."""
    rw = spec.reweight
    if rw is None:
        raise PhasetuneError("route reweight needs a 'reweight:' section (phases' frame "
                             "configurations)")
    potential = load_potential(spec.potential)
    model, theta0 = model_for(potential)
    if not np.allclose(theta0, potential.theta[:theta0.size]):
        raise PhasetuneError(f"{potential.name}: route reweight tunes all of θ; a fixed overlay "
                             "component is not supported here")
    output = Path(spec.output)
    frames_dir = output / "frames"
    configs, phases, anchors = {}, {}, {}
    for name, path in rw.phases.items():
        config = load_config(path)
        own = load_potential(str(config.values["potential"]))
        own_theta = model_for(own)[1]
        if own_theta.shape != theta0.shape or not np.allclose(own_theta, theta0):
            raise PhasetuneError(f"reweight.phases.{name}: {path} samples {own.name}, not "
                                 f"{potential.name}", "sample the phases with the tuned "
                                 "potential's θ0")
        configs[name] = config
        atoms = config.atoms(potential)
        store = sample_frames(atoms, potential, config.values["temperature"], config.out,
                              pressure=config.pressure, settings=config.settings,
                              seed=int(config.values["seed"]))
        anchor, sigma, source = 0.0, 0.0, "none (ΔF at θ0 taken as 0 per phase)"
        if name in rw.anchors:
            anchor, sigma, source = load_anchor(rw.anchors[name], store)
        anchors[name] = source
        phases[name] = ReweightedPhase(name, store, model, anchor, sigma, rw.min_ess)
    if any(t.transition for t in spec.targets) and len(anchors) != len(rw.anchors):
        raise PhasetuneError("a transition target needs the absolute F(θ0) of every phase",
                             "give reweight.anchors: {phase: TI.json} for every phase")
    targets = nonlinear_targets(spec, phases, theta0)
    metric = function_metric([p.frames for p in phases.values()], model, theta0,
                             ridge=function_ridge(spec))

    def resample(name: str, theta: np.ndarray, k: int):
        config = configs[name]
        frames_dir.mkdir(parents=True, exist_ok=True)
        return sample_frames(config.atoms(potential), potential.with_theta(theta),
                             config.values["temperature"], frames_dir / f"{name}_round{k}.h5",
                             settings=config.settings, seed=int(config.values["seed"]) + 1000 * k)

    before = [t.evaluate(phases, theta0) for t in targets]
    result = tune_reweighted(phases, theta0, targets, metric, resample=resample,
                             max_rounds=rw.max_rounds, max_iter=spec.max_iter,
                             progress=progress)
    after = [t.evaluate(result.phases, result.theta) for t in targets]
    report = {"rounds": len(result.rounds), "anchors": anchors, "min_ess": rw.min_ess,
              "frames": {name: str(p.frames.path) for name, p in result.phases.items()},
              "ess_fraction_after": {name: float(p.reweighted(result.theta).ess_fraction[0])
                                     for name, p in result.phases.items()}}
    steps = [s for r in result.rounds for s in r.steps]
    return _outcome(spec, potential, result, targets, before, after, steps, report)


def run_tune_tangent(spec: TuneSpec) -> NonlinearOutcome:
    """Tangent archive, targets and metric → tuned θ, written with its report (no sampling)."""
    from ..archive.hdf5 import read_archive
    from ..estimator.store import load_volume_estimators
    from ..reweighting.store import read_frames
    from ..tangent.prediction import spec_for, tangent_record

    if len(spec.archives) != 1:
        raise PhasetuneError("route tangent reads one tangent archive holding the phases",
                             "give archives: [TANGENT.h5]")
    archive = spec.archives[0]
    potential = load_potential(spec.potential)
    data = read_archive(archive)
    tangent = spec_for(tangent_record(data.metadata, str(archive)), potential, str(archive))
    options = spec.tangent
    stores = {name: read_frames(path) for name, path in options.frames.items()}
    phases = {}
    for name, estimators in load_volume_estimators(archive, data=data).items():
        store = stores.get(name)
        frames = None if store is None else (store.descriptors, store.temperature)
        phases[name] = TangentPhase(name, estimators[0], tangent, frames,
                                    1e-3 * options.tolerance_meV)
    theta0 = tangent.theta0
    targets = nonlinear_targets(spec, phases, theta0)
    metric = function_metric(list(stores.values()), tangent.model, theta0,
                             ridge=function_ridge(spec)) if stores else np.eye(theta0.size)
    before = [t.evaluate(phases, theta0) for t in targets]
    result = fine_tune(phases, theta0, targets, metric, free=np.ones(theta0.size, dtype=bool),
                       max_iter=spec.max_iter)
    after = [t.evaluate(phases, result.theta) for t in targets]
    report = {"archive": str(archive), "frames": {k: str(v) for k, v in options.frames.items()},
              "tolerance_meV": options.tolerance_meV}
    return _outcome(spec, potential, result, targets, before, after, result.steps, report)


def _outcome(spec: TuneSpec, potential, result, targets, before, after, steps,
             extra: dict) -> NonlinearOutcome:
    """Write the tuned potential, report.json and the trajectory plot."""
    output = Path(spec.output)
    tuned = potential.with_theta(result.theta, name=spec.name or f"{potential.name}_tuned")
    output.mkdir(parents=True, exist_ok=True)
    files = dict(tuned.write(output, tuned.name))
    report = {
        "route": spec.route, "message": result.message, "converged": result.converged,
        "potential": potential.name, "tuned": tuned.name,
        "relative_theta_change": result.relative_change,
        "targets": [{"target": t.describe(), "residual_before_eV": b.residual,
                     "residual_after_eV": a.residual, "sigma_after_eV": a.sigma,
                     "solved_after": a.solved}
                    for t, b, a in zip(targets, before, after, strict=True)],
        **extra,
    }
    files["report"] = output / "report.json"
    files["report"].write_text(json.dumps(to_jsonable(report), indent=2, ensure_ascii=False))
    files["plot"] = plot_trajectory(SimpleNamespace(steps=steps), targets,
                                    output / "trajectory.png", "function")
    return NonlinearOutcome(result, report, files)
