"""``sample --t-max``: extend a campaign until θ0 is solved up to a requested temperature.

Each round runs the campaign (resuming or completing what is there), refits the shell entropies
(stored beside the archive, as ``phasetune fit`` does) and finds θ0's solved range between
``isosurfaces.temperatures[0]`` and T_max in every (phase, volume) of the phases asked for
(:func:`~phasetune.estimator.solved.solved_range`).  A phase is done when θ0 is solved at T_max.
Otherwise the reason at the top of its highest solved interval decides:

* ``alpha_above_grid`` — shells are appended above the phase's grid on the grid's own lattice
  (:func:`~phasetune.campaign.isosurfaces.isosurface_grid`): first up to α_H(cover·T_max), then by a
  further factor max(cover, 1.25) in temperature per round;
* anything else (no interior saddle, clamped components, …) — more shells cannot help: stop with
  an :class:`~phasetune.errors.EstimatorError` that says so.

The extension of each phase is recorded in the archive (``sampler.extended_to``) by
:func:`~phasetune.campaign.runner.run_campaign`; every later ``phasetune sample`` of the same YAML
keeps it, so the YAML plus the archive reproduce the grid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..campaign.runner import CampaignResult, run_campaign
from ..campaign.spec import CampaignSpec, descriptor_spec, reference_potential
from ..conventions import Conventions
from ..errors import ConfigError, EstimatorError
from ..potentials.linear import LinearPotential
from ..scoring.score_matching import DEFAULT_DEGREE, Degree
from .solved import EXTENDABLE, SolvedRange
from .store import check_potential, load_volume_estimators

MAX_ROUNDS = 4
"""Extension rounds (each: append shells, sample, refit, check) before giving up."""
MIN_FACTOR = 1.25
"""Least factor in temperature by which a round after the first raises a phase's grid top."""


def campaign_theta(spec: CampaignSpec) -> LinearPotential:
    """θ0 of a campaign: the reference potential when it is linear with the sampled descriptor
    spec, else ``descriptors.potential``."""
    from ..potentials.registry import load_potential

    ref, dspec = reference_potential(spec), descriptor_spec(spec)
    if isinstance(ref, LinearPotential) and ref.spec.compatible_with(dspec) is None:
        return ref
    if spec.descriptors is not None and spec.descriptors.potential:
        return load_potential(spec.descriptors.potential)
    raise ConfigError("--t-max: the campaign has no linear reference potential θ0 (the reference "
                      f"{ref.name} is not a linear potential of the sampled descriptors)",
                      "pass --potential P: the linear potential whose solved range to extend")


@dataclass
class PhaseCheck:
    """θ0 at T_max in one (phase, volume) after a round."""

    phase: str
    volume_index: int
    volume: float
    n_shells: int
    grid_T: tuple[float, float]
    solved_range: SolvedRange

    @property
    def solved(self) -> bool:
        """θ0 is solved at T_max (the last interval reaches the top of the search)."""
        last = self.top
        return last is not None and last.high.kind == "window"

    @property
    def top(self):
        """The highest solved interval (None if θ0 is solved nowhere in the search)."""
        found = self.solved_range.intervals[0]
        return found[-1] if found else None

    @property
    def extendable(self) -> bool:
        top = self.top
        return top is not None and top.high.kind in EXTENDABLE

    def describe(self) -> str:
        where = f"{self.phase} v{self.volume_index} ({self.volume:g} Å³/atom, {self.n_shells} " \
                f"shells to T_α = {self.grid_T[1]:.0f} K)"
        found = self.solved_range.intervals[0]
        if not found:
            return f"{where}: θ0 is solved nowhere in {self.solved_range.window[0]:g}–" \
                   f"{self.solved_range.window[1]:g} K"
        spans = ", ".join(f"{iv.t_lo:.0f}–{iv.t_hi:.0f} K" for iv in found)
        if self.solved:
            return f"{where}: θ0 solved {spans}"
        return f"{where}: θ0 solved {spans}; above {self.top.t_hi:.0f} K: {self.top.high.reason}"

    def to_dict(self) -> dict:
        return {"phase": self.phase, "volume_index": self.volume_index, "volume": self.volume,
                "n_shells": self.n_shells, "grid_T": list(self.grid_T),
                "solved_at_t_max": self.solved,
                "solved_range": self.solved_range.to_dict(per_model=True)}


@dataclass
class ExtensionResult:
    """Outcome of :func:`extend_campaign`.

    Attributes:
        t_max: the temperature asked for, K.
        potential: θ0's name.
        solved: θ0 is solved at t_max in every (phase, volume) checked.
        complete: every round's sampling completed (False: chunks failed, see ``campaign``).
        rounds: per round, the phases extended and to which temperature, and the samples drawn.
        checks: the last check of every (phase, volume).
        campaign: the last :class:`CampaignResult`.
    """

    t_max: float
    potential: str
    solved: bool
    complete: bool
    rounds: list[dict] = field(default_factory=list)
    checks: list[PhaseCheck] = field(default_factory=list)
    campaign: CampaignResult | None = None

    def as_dict(self) -> dict:
        return {"t_max": self.t_max, "potential": self.potential, "solved": self.solved,
                "complete": self.complete, "rounds": self.rounds,
                "checks": [c.to_dict() for c in self.checks],
                "campaign": self.campaign.as_dict() if self.campaign else None}


def check_phases(spec: CampaignSpec, theta0: LinearPotential, phases: list[str], t_max: float,
                 degree: Degree = DEFAULT_DEGREE) -> list[PhaseCheck]:
    """Refit (stored fits are reused when current) and find θ0's solved range between
    ``isosurfaces.temperatures[0]`` and ``t_max`` in every (phase, volume) of ``phases``."""
    t_lo = spec.isosurfaces.temperatures[0]
    estimators = load_volume_estimators(spec.archive_path, phases=phases,
                                        conventions=Conventions(), degree=degree)
    checks = []
    for name, ests in estimators.items():
        for k, est in enumerate(ests):
            check_potential(theta0, est.phase_volume)
            found = est.solved_range(theta0.theta, t_lo, t_max)
            grid = est.reference.shell_temperature(est.alphas[[0, -1]], est.conventions)
            checks.append(PhaseCheck(name, k, est.reference.volume, int(est.alphas.size),
                                     (float(grid[0]), float(grid[1])), found))
    return checks


def extend_campaign(spec: CampaignSpec, t_max: float, *, phases: list[str] | None = None,
                    potential: LinearPotential | None = None, max_rounds: int = MAX_ROUNDS,
                    degree: Degree = DEFAULT_DEGREE, report: Callable[[str], None] | None = None,
                    **run_options) -> ExtensionResult:
    """Sample, refit and append shells until θ0 is solved at ``t_max`` (module docstring).

    Args:
        spec: the campaign.
        t_max: the temperature θ0 must be solved at, K (above ``isosurfaces.temperatures[0]``).
        phases: the phases to check and extend (default: all).
        potential: θ0 (default :func:`campaign_theta`).
        max_rounds: extension rounds at most (each appends shells, samples and refits).
        degree: score degree of the fits.
        report: called with one line per step (rounds, checks).
        **run_options: passed to :func:`~phasetune.campaign.runner.run_campaign` (executor,
            workers, scheduler, quiet, progress).

    Returns:
        :class:`ExtensionResult` (``complete`` False when a round's sampling left failed chunks:
        re-run to resume).

    Raises:
        EstimatorError: θ0 stops being solved below ``t_max`` for a reason more shells do not
            change, or is still unsolved after ``max_rounds`` rounds.
    """
    say = report or (lambda line: None)
    names = [p.name for p in spec.phases]
    chosen = list(dict.fromkeys(phases)) if phases else names
    unknown = [p for p in chosen if p not in names]
    if unknown:
        raise ConfigError(f"--phase {', '.join(unknown)}: not in the campaign",
                          f"phases: {', '.join(names)}")
    if spec.flavour != "hessian":
        raise ConfigError(f"--t-max: the {spec.flavour} flavour has no estimator to check "
                          "(method.md §4.5)", "extend hessian campaigns, or widen "
                          "isosurfaces.temperatures")
    t_lo, t_hi = spec.isosurfaces.temperatures
    if not np.isfinite(t_max) or t_max <= t_lo:
        raise ConfigError(f"--t-max {t_max:g} K must lie above isosurfaces.temperatures[0] = "
                          f"{t_lo:g} K")
    theta0 = potential or campaign_theta(spec)
    factor = max(spec.isosurfaces.cover, MIN_FACTOR)
    out = ExtensionResult(float(t_max), theta0.name, solved=False, complete=False)
    targets: dict[str, float] = {}
    for round_ in range(max_rounds + 1):
        result = run_campaign(spec, t_max=targets or None, **run_options)
        out.campaign = result
        out.rounds.append({"round": round_, "extended_to": dict(targets),
                           "samples": result.samples_run, "chunks": result.chunks_run,
                           "complete": result.complete})
        if not result.complete:
            return out
        out.checks = check_phases(spec, theta0, chosen, t_max, degree)
        for c in out.checks:
            say(f"round {round_}: {c.describe()}")
        pending = [c for c in out.checks if not c.solved]
        if not pending:
            out.solved = out.complete = True
            return out
        blocked = [c for c in pending if not c.extendable]
        if blocked:
            c = blocked[0]
            why = (f"θ0 is solved nowhere between {t_lo:g} and {t_max:g} K" if c.top is None
                   else f"θ0 ({theta0.name}) is solved only up to {c.top.t_hi:.0f} K, and above "
                        f"it: {c.top.high.reason}")
            others = sorted({p.phase for p in out.checks} - {p.phase for p in blocked})
            starved = c.top is not None and c.top.high.kind == "low_support"
            raise EstimatorError(
                f"--t-max {t_max:g} K: {c.phase} v{c.volume_index}: {why}",
                ("more samples per shell, not more shells, carry this phase higher (raise "
                 "samples.per_isosurface and run sample again; docs/campaign.md 'Extending "
                 "toward T_max')" if starved else
                 "the harmonic shells cannot carry this phase higher (issue 14; docs/campaign.md "
                 "'Extending toward T_max')")
                + (f"; extend the other phases alone with --phase {' --phase '.join(others)}"
                   if others else ""))
        if round_ == max_rounds:
            break
        current = dict(result.extended_to)
        for c in pending:
            now = max(current.get(c.phase, t_hi), targets.get(c.phase, t_hi))
            targets[c.phase] = float(t_max if now < t_max else now * factor)
        say(f"round {round_ + 1}: appending shells: " + ", ".join(
            f"{name} to α_H({spec.isosurfaces.cover:g} × {t:.0f} K)"
            for name, t in sorted(targets.items())))
    c = next(c for c in out.checks if not c.solved)
    raise EstimatorError(
        f"--t-max {t_max:g} K: θ0 ({theta0.name}) is still not solved there after {max_rounds} "
        f"round(s) of appended shells ({c.describe()})",
        "raise isosurfaces.cover or samples.per_isosurface, or run again for more rounds")
