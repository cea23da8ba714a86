"""``phasetune tune TUNE.yaml``: fine-tune θ to thermodynamic targets, write the potential."""

from __future__ import annotations

import sys

import click

from .common import emit_json, handle_errors


@click.command("tune")
@click.argument("config", type=click.Path(exists=True, dir_okay=False))
@click.option("--route", type=click.Choice(["score", "cumulant", "reweight", "tangent"]),
              default=None,
              help="Override the YAML's route (reweight: non-linear potentials from MD frames, "
                   "re-sampled when the effective sample size runs out; tangent: from a "
                   "descriptors.tangent archive).")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def command(config, route, as_json) -> None:
    """Tune θ and write the tuned potential, report.json and a plot (D-DOS routes: no new
    sampling; route reweight: MD frames, re-sampled as needed)."""
    from ..tuning.run import run_tune
    from ..tuning.spec import load_tune_spec

    spec = load_tune_spec(config)
    if route is not None:
        spec.route = route
    if spec.route in ("reweight", "tangent"):
        from ..tuning.nonlinear_run import run_tune_reweighted, run_tune_tangent

        say = None if as_json else click.echo
        outcome = run_tune_reweighted(spec, progress=say) if spec.route == "reweight" \
            else run_tune_tangent(spec)
    else:
        outcome = run_tune(spec)
    report = {**outcome.report, "files": {k: str(v) for k, v in outcome.files.items()}}
    if as_json:
        emit_json(report)
    else:
        rounds = f" after {report['rounds']} round(s)" if "rounds" in report else ""
        click.echo(f"{report['message']}; |Δθ|/|θ| = {report['relative_theta_change']:.3e}"
                   f"{rounds}")
        for row in report["targets"]:
            click.echo(f"  {row['target']}: residual {1e3 * row['residual_before_eV']:.3f} → "
                       f"{1e3 * row['residual_after_eV']:.3f} meV/atom")
            for before, after in zip(row.get("transitions_before", []),
                                     row.get("transitions_after", []), strict=False):
                click.echo(f"    T_c {_tc(before)} → {_tc(after)}")
        if "training" in report:
            t = report["training"]
            click.echo(f"  training RMSE: E {1e3 * t['rmse_energy_before_eV_per_atom']:.3f} → "
                       f"{1e3 * t['rmse_energy_after_eV_per_atom']:.3f} meV/atom, F "
                       f"{t['rmse_force_before_eV_per_A']:.4f} → "
                       f"{t['rmse_force_after_eV_per_A']:.4f} eV/Å")
        for key, path in report["files"].items():
            click.echo(f"  {key}: {path}")
    sys.exit(0 if outcome.result.converged else 3)


def _tc(transition: dict) -> str:
    """'1063.0 K', '> 1300 K (bound)' or 'none in the solved range'."""
    if transition["kind"] == "root":
        flag = "" if transition["solved"] else " (unsolved bracket)"
        return f"{transition['T_c']:.1f} K{flag}"
    if transition["kind"] in ("above", "below"):
        sign = ">" if transition["kind"] == "above" else "<"
        return f"{sign} {transition['bound']:.0f} K (bound)"
    return "none in the solved range"
