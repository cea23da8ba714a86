"""The tuning report: targets before/after, |Δθ|/|θ|, training RMSE change, the solved status
along the way; written as JSON with a plot of the optimisation trajectory, next to the tuned
potential files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..constants import GPA_TO_EV_PER_A3
from ..jsonutil import to_jsonable
from ..phases.transitions import transitions
from .targets import TransitionTarget, phase_at


def build_report(spec, estimators, potential, tuned, targets, result, design, grid) -> dict:

    beta0 = potential.beta0()
    rows = []
    for target, first, last in zip(targets, result.steps[0].residuals,
                                   result.steps[-1].residuals, strict=True):
        row = {"target": target.describe(), "residual_before_eV": first,
               "residual_after_eV": last}
        if isinstance(target, TransitionTarget):
            before, after = transition_before_after(
                estimators, target.phase_b, target.phase_a, result.theta0, result.theta, grid,
                beta0, target.pressure)
            row.update(T_target=target.temperature, transitions_before=before,
                       transitions_after=after)
        if getattr(target, "pressure", None) is not None:
            row["P_GPa"] = target.pressure / GPA_TO_EV_PER_A3
        rows.append(row)
    report = {
        "potential": potential.name,
        "tuned_potential": tuned.name,
        "converged": result.converged,
        "message": result.message,
        "iterations": len(result.steps) - 1,
        "relative_theta_change": result.relative_change,
        "targets": rows,
        "trajectory": [{"iteration": k, "residuals_eV": s.residuals, "solved": s.solved,
                        "distance_M": s.distance, "reasons": s.reasons}
                       for k, s in enumerate(result.steps)],
        "regulariser": spec.regulariser.kind,
        "constraints": list(spec.constraints),
        "conventions": next(iter(estimators.values())).conventions_dict(),
    }
    if design is not None:
        coef0 = np.r_[beta0, result.theta0[design.free]]
        coef1 = np.r_[beta0, result.theta[design.free]]
        e0, f0 = design.rmse(coef0)
        e1, f1 = design.rmse(coef1)
        report["training"] = {"rows": int(len(design.y)),
                              "rmse_energy_before_eV_per_atom": e0,
                              "rmse_energy_after_eV_per_atom": e1,
                              "rmse_force_before_eV_per_A": f0, "rmse_force_after_eV_per_A": f1}
    return report


def write_outputs(directory: Path, tuned, report: dict, result, targets) -> dict[str, Path]:
    """The tuned potential (.snapcoeff/.snapparam/.snap), report.json and trajectory.png."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    files = dict(tuned.write(directory, tuned.name))
    files["report"] = directory / "report.json"
    files["report"].write_text(json.dumps(to_jsonable(report), indent=2, ensure_ascii=False))
    files["plot"] = plot_trajectory(result, targets, directory / "trajectory.png",
                                    report.get("regulariser", "gram"))
    return files


DISTANCE_LABELS = {
    "gram": r"$\Vert\theta-\theta_0\Vert_M$ (dimensionless, training σ units)",
    "ridge": r"$\Vert\theta-\theta_0\Vert$ (eV per descriptor unit)",
    "function": r"$\Vert\theta-\theta_0\Vert_M$ (eV/atom: rms change of $E/N$ on the frames)",
}
"""y label of the distance panel per regulariser: with the Gram metric M = ΦᵀWΦ (rows weighted by
1/σ_E, 1/σ_F) the distance counts changes of the training predictions in units of their σ; with
the ridge metric M = I it is the Euclidean norm of Δθ."""


def plot_trajectory(result, targets, path: Path, regulariser: str = "gram") -> Path:
    """Residual of each target (meV/atom) and ‖θ − θ0‖_M against the (integer) iteration."""
    from matplotlib.ticker import MaxNLocator

    from ..plots import pyplot

    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6), dpi=120)
    it = np.arange(len(result.steps))
    res = np.array([s.residuals for s in result.steps]) * 1e3
    for j, t in enumerate(targets):
        ax1.plot(it, res[:, j], marker="o", label=t.describe())
    ax1.axhline(0, color="k", lw=0.5)
    ax1.set_ylabel("target residual (meV/atom)")
    ax1.legend(fontsize=7)
    dist = [s.distance for s in result.steps]
    ax2.plot(it, dist, marker="o")
    ax2.set_ylabel(DISTANCE_LABELS.get(regulariser, DISTANCE_LABELS["gram"]))
    for ax in (ax1, ax2):
        ax.set_xlabel("iteration")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def transition_before_after(estimators, low: str, high: str, theta0, theta, grid, beta0,
                            pressure: float | None = None):
    """T_c (or bound) between two phases before and after tuning (on the isobar at
    ``pressure`` eV/Å³ when given)."""
    pair = tuple(phase_at(estimators, n, pressure, f"T_c({low}→{high})") for n in (low, high))
    before = transitions(*pair, theta0, grid, (low, high), beta0)
    after = transitions(*pair, theta, grid, (low, high), beta0)
    return [t.to_dict() for t in before], [t.to_dict() for t in after]

