"""Text, Markdown and PNG renderings of a :class:`~phasetune.validation.api.ValidationReport`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..plots import pyplot
from .compare import ABS_TARGET, DIFF_TARGET


def _flag(row: dict) -> str:
    if not row["solved"]:
        return "not solved"
    return ("✓" if row["within_target"] else "✗") + (" covered" if row["covered"] else "")


def markdown_tables(report) -> str:
    """Markdown: absolute F per (phase, T, model), ΔF between phases, cost, failures."""
    c = report.comparison
    lines = [f"Potential `{report.potential}`, archive `{Path(report.archive).name}`; "
             "F^(3N−3) per atom, deviations d = F_DDOS − F_TI in meV/atom, σ combined.", "",
             "| phase | T (K) | model | F_TI (eV/atom) | σ_TI (meV) | d (meV) | σ_DDOS (meV) "
             "| d/σ | \\|d\\| ≤ 2 meV |", "|---|---|---|---|---|---|---|---|---|"]
    for r in c.rows:
        lines.append(f"| {r['phase']} | {r['T']:g} | {r['model']} | {r['F_TI']:.5f} | "
                     f"{1e3 * r['sigma_TI']:.2f} | {1e3 * r['deviation']:+.2f} | "
                     f"{1e3 * r['sigma_DDOS']:.2f} | {r['z']:+.1f} | {_flag(r)} |")
    if c.differences:
        lines += ["", "| ΔF | T (K) | model | ΔF_TI (meV/atom) | σ_TI (meV) | d (meV) | "
                  "σ_DDOS (meV) | d/σ | \\|d\\| ≤ 1 meV |", "|---|---|---|---|---|---|---|---|---|"]
        for r in c.differences:
            lines.append(f"| {r['phase']} | {r['T']:g} | {r['model']} | "
                         f"{1e3 * r['F_TI']:.2f} | {1e3 * r['sigma_TI']:.2f} | "
                         f"{1e3 * r['deviation']:+.2f} | {1e3 * r['sigma_DDOS']:.2f} | "
                         f"{r['z']:+.1f} | {_flag(r)} |")
    s = c.summary
    lines += [""]
    for key, name, target in (("absolute", "absolute F", ABS_TARGET),
                              ("difference", "ΔF", DIFF_TARGET)):
        p = s[key]
        if p["solved"]:
            lines.append(f"* {name}: {p['solved']} of {p['cases']} cases solved; max |d| = "
                         f"{1e3 * p['max_abs_deviation']:.2f} meV/atom, rms "
                         f"{1e3 * p['rms_deviation']:.2f}; {p['within_target']}/{p['solved']} "
                         f"within {1e3 * target:g} meV/atom; 90 % bars cover "
                         f"{p['covered']}/{p['solved']}.")
        else:
            lines.append(f"* {name}: {p['cases']} cases, none solved by the estimator.")
    for f in report.failures:
        lines.append(f"* TI stopped for {f['phase']} at {f['T']:g} K: {f['error']}")
    for p in report.pending:
        model = f" for {p['model']}" if "model" in p else ""
        lines.append(f"* pending: TI of {p['phase']} at {p['T']:g} K{model} has not run yet "
                     "(rerun the report to resume it)")
    k = report.cost
    if k.get("ti_cpu_s_per_model_T_all_phases") is not None:
        lines += ["", "| cost | CPU s |", "|---|---|",
                  f"| D-DOS campaign (all phases, once; {k['campaign_cpu_source']}) | "
                  f"{k['campaign_cpu_s']:.0f} |",
                  f"| TI λ-integration, one phase, one (model, T) | "
                  f"{k['ti_lambda_cpu_s_per_phase_T']:.0f} |",
                  f"| TI, all phases, one (model, T) | "
                  f"{k['ti_cpu_s_per_model_T_all_phases']:.0f} |",
                  f"| D-DOS prediction, all phases, one (model, T) | "
                  f"{k['ddos_s_per_model_T_all_phases']:.1e} |"]
        if k.get("ti_theta_cpu_s_per_model_phase_T") is not None:
            lines.append(f"| TI θ-integration from θ0, one phase, one (model, T) | "
                         f"{k['ti_theta_cpu_s_per_model_phase_T']:.0f} |")
        lines += ["", f"Break-even: the campaign costs as much as TI for "
                  f"**{k['break_even_models']:.2f}** (model, T) evaluations of all phases."]
    return "\n".join(lines) + "\n"


def plot_validation(report, path: str | Path) -> Path:
    """Deviations F_DDOS − F_TI (meV/atom) against T with combined 1σ bars: one panel per phase
    and one for ΔF; open symbols where the estimator is not solved; the target bands shaded."""
    plt = pyplot()
    c = report.comparison
    groups = {}
    for r in c.rows:
        groups.setdefault(r["phase"], []).append(r)
    diff = {}
    for r in c.differences:
        diff.setdefault(r["phase"], []).append(r)
    panels = [(name, rows, ABS_TARGET) for name, rows in groups.items()]
    panels += [(f"Δ{name}", rows, DIFF_TARGET) for name, rows in diff.items()]
    fig, axes = plt.subplots(1, max(1, len(panels)), figsize=(4.2 * max(1, len(panels)), 3.6),
                             squeeze=False)
    markers = "osD^v<>p*h"
    for ax, (name, rows, target) in zip(axes[0], panels, strict=False):
        solved_dev = [1e3 * (abs(r["deviation"]) + r["sigma"]) for r in rows if r["solved"]]
        lim = 1.15 * max([2e3 * target, *solved_dev])
        ax.set_ylim(-lim, lim)
        ax.axhspan(-1e3 * target, 1e3 * target, color="0.9", zorder=0)
        ax.axhline(0.0, color="0.5", lw=0.8)
        models = list(dict.fromkeys(r["model"] for r in rows))
        for k, model in enumerate(models):
            sel = [r for r in rows if r["model"] == model]
            t = np.array([r["T"] for r in sel]) + 15.0 * (k - (len(models) - 1) / 2)
            d = np.array([1e3 * r["deviation"] for r in sel])
            s = np.array([1e3 * r["sigma"] for r in sel])
            solved = np.array([r["solved"] for r in sel])
            color = f"C{k}"
            m = markers[k % len(markers)]
            if solved.any():
                ax.errorbar(t[solved], d[solved], s[solved], fmt=m, color=color, label=model,
                            capsize=2)
            if (~solved).any():  # no error bar; values beyond the axes sit on its edge
                clipped = np.clip(d[~solved], -0.97 * lim, 0.97 * lim)
                ax.plot(t[~solved], clipped, m, color=color, mfc="none",
                        label=None if solved.any() else f"{model} (not solved)")
                for x, y, v in zip(t[~solved], clipped, d[~solved], strict=True):
                    if abs(v) > lim and k == 0:  # one label per temperature
                        ax.annotate(f"{model}: {v:+.0f} meV", (x, y), fontsize=6,
                                    color=color, xytext=(-40, 6 if y < 0 else -10),
                                    textcoords="offset points")
        ax.set_title(name)
        ax.set_xlabel("T (K)")
        ax.set_ylabel("D-DOS − TI (meV/atom)")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{report.potential}: D-DOS against TI (open: not solved)", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
