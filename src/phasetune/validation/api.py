"""``validate``: TI for a potential (and perturbed θ) on the cells of a D-DOS archive, compared
with the estimator, with the cost of both routes.  Resumable: every finished TI repeat is
checkpointed under ``out`` and every finished (phase, T) is cached there as JSON."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..archive.hdf5 import read_archive
from ..potentials.linear import LinearPotential
from ..ti.basin import CrystalLeftBasinError
from .compare import Comparison, compare, ddos_estimators
from .runs import TISettings, perturbed_thetas, ti_for_phase


@dataclass
class ValidationReport:
    """Everything ``phasetune validate`` prints and writes.

    Attributes:
        archive: the D-DOS archive.
        potential: potential name.
        temperatures: K.
        labels: model names (θ0 first).
        thetas: (n_models, N_D).
        comparison: :class:`~phasetune.validation.compare.Comparison`.
        failures: TI runs that stopped (crystal left its basin, …): phase, T, message.
        pending: (phase, T) whose TI has not run yet (``run=False``).
        cost: CPU seconds of the campaign, TI per (model, T) and D-DOS per (model, T), and the
            break-even number of models.
        settings: TI settings.
    """

    archive: str
    potential: str
    temperatures: list[float]
    labels: list[str]
    thetas: np.ndarray
    comparison: Comparison
    failures: list[dict] = field(default_factory=list)
    pending: list[dict] = field(default_factory=list)
    cost: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"archive": self.archive, "potential": self.potential,
                "temperatures": self.temperatures, "labels": self.labels,
                "thetas": self.thetas.tolist(), "comparison": self.comparison.to_dict(),
                "failures": self.failures, "pending": self.pending, "cost": self.cost,
                "settings": self.settings,
                "units": {"F": "eV/atom", "T": "K", "cost": "CPU s"},
                "conventions": "F^(3N-3): COM fixed, classical, per atom (method.md §3)"}


def campaign_cpu_seconds(archive: str | Path) -> tuple[float, str]:
    """(seconds, how): the sampling workers' CPU time summed over the campaign's runs, or the
    wall time where an older archive did not record it."""
    prov = read_archive(archive).metadata.get("provenance", {})
    runs = [r for r in (*prov.get("runs", []), prov.get("this_run", {}))
            if isinstance(r, dict) and r.get("samples", 1)]  # resumes that sampled nothing: 0
    if runs and all("worker_cpu_s" in r for r in runs):
        return float(sum(r["worker_cpu_s"] for r in runs)), "worker CPU"
    return float(sum(r.get("wall_time_s", 0.0) for r in runs)), "wall time"


def _ddos_seconds(estimators, thetas: np.ndarray, temps: list[float]) -> float:
    """Wall seconds per (model, T) of a D-DOS prediction for all phases (1000 models)."""
    batch = np.repeat(thetas[:1], 1000, axis=0)
    start = time.perf_counter()
    for est in estimators.values():
        est.predict(batch, temps)
    return (time.perf_counter() - start) / (1000 * len(temps))


def validate(archive: str | Path, potential: LinearPotential, temperatures: Sequence[float],
             n_thetas: int = 3, scale: float = 0.02, seed: int = 0,
             out: str | Path = "validation-output/ti", settings: TISettings | None = None,
             phases: Sequence[str] | None = None,
             extra: dict[str, tuple[np.ndarray, Sequence[float] | None]] | None = None,
             progress: bool = True, campaign_cpu: float | None = None,
             run: bool = True) -> ValidationReport:
    """Run (or resume) the TI side and compare it with D-DOS.

    Args:
        archive: D-DOS archive whose cells, lattices and Hessians TI uses.
        potential: the potential at θ0.
        temperatures: K.
        n_thetas, scale, seed: perturbed θ (:func:`~phasetune.validation.runs.perturbed_thetas`).
        out: directory of TI checkpoints and cached results.
        settings: TI repeats and steps (default :class:`TISettings`).
        phases: phases of the archive to validate (default all).
        extra: more named θ to validate, name → (θ (N_D,), temperatures or None for all),
            e.g. a tuned potential's at its target temperature.
        campaign_cpu: CPU seconds of the campaign, if measured outside (default: from the
            archive's provenance).
        run: run missing TI; False reports only what is finished (the rest as ``pending``).

    Returns:
        :class:`ValidationReport`.
    """
    out = Path(out)
    settings = settings or TISettings()
    temps = sorted(float(t) for t in temperatures)
    thetas = perturbed_thetas(potential, n_thetas, scale, seed)
    labels = ["θ0", *(f"θ{m}" for m in range(1, n_thetas + 1))]
    extra = extra or {}
    estimators = ddos_estimators(archive, potential)
    if phases:
        estimators = {p: estimators[p] for p in phases}
    ti, failures, pending, cpu_lambda, cpu_theta = {}, [], [], [], []
    for t in temps:
        for phase in estimators:
            try:
                res = ti_for_phase(archive, phase, potential, t, thetas, out, settings,
                                   progress, run)
                if res is None:
                    pending.append({"phase": phase, "T": t})
                    continue
                res = dict(res)
                for name, (theta, only) in extra.items():
                    more = None
                    if only is None or t in only:
                        more = ti_for_phase(archive, phase, potential, t,
                                            np.vstack([thetas[0], theta]), out, settings,
                                            progress, run)
                        if more is None:
                            pending.append({"phase": phase, "T": t, "model": name})
                    if more is not None:
                        res["F"] = [*res["F"], more["F"][1]]
                        res["sigma"] = [*res["sigma"], more["sigma"][1]]
                    else:
                        res["F"] = [*res["F"], float("nan")]
                        res["sigma"] = [*res["sigma"], float("nan")]
            except CrystalLeftBasinError as exc:
                failures.append({"phase": phase, "T": t, "error": str(exc)})
                continue
            ti[(phase, t)] = res
            cpu_lambda.append(res["cpu_lambda"])
            if n_thetas:
                cpu_theta.append(res["cpu_theta"] / n_thetas)
    for name, (theta, _) in extra.items():
        thetas = np.vstack([thetas, theta])
        labels.append(name)
    comparison = compare(estimators, thetas, potential.beta0(), ti, labels)
    campaign, how = (campaign_cpu, "given") if campaign_cpu is not None \
        else campaign_cpu_seconds(archive)
    ti_per_model = float(np.mean(cpu_lambda)) * len(estimators) if cpu_lambda else float("nan")
    cost = {"campaign_cpu_s": campaign, "campaign_cpu_source": how,
            "ti_lambda_cpu_s_per_phase_T": float(np.mean(cpu_lambda)) if cpu_lambda else None,
            "ti_theta_cpu_s_per_model_phase_T": float(np.mean(cpu_theta)) if cpu_theta else None,
            "ti_cpu_s_per_model_T_all_phases": ti_per_model,
            "ddos_s_per_model_T_all_phases": _ddos_seconds(estimators, thetas, temps),
            "break_even_models": campaign / ti_per_model if cpu_lambda else None}
    return ValidationReport(str(archive), potential.name, temps, labels, thetas, comparison,
                            failures, pending, cost,
                            {"ti": settings.to_dict(), "n_thetas": n_thetas, "scale": scale,
                             "seed": seed})
