"""``phasetune validate``: D-DOS free energies against TI on the archive's own cells."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..potentials.linear import LinearPotential
from ..progress import resolve_mode
from .common import emit_json, handle_errors
from .options import potential_option, pressures_option, resolve_potential, temperature_option


@click.command("validate")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
@potential_option
@temperature_option
@click.option("--thetas", "n_thetas", type=int, default=3, show_default=True,
              help="Perturbed θ drawn around the potential's (θ-integration from θ0).")
@click.option("--scale", type=float, default=0.02, show_default=True,
              help="Relative size of the perturbations: θ0 + scale·|θ0|·ξ, ξ ~ N(0, 1).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the perturbations.")
@click.option("--extra", "extra", multiple=True, metavar="NAME=FILE[@T,…]",
              help="Also validate another potential's θ (e.g. a tuned .snap), optionally only "
                   "at some temperatures: tuned=out/tuned.snap@900.  Repeatable.")
@click.option("--phase", "phases", multiple=True, help="Only these phases (repeatable).")
@click.option("--repeats", type=int, default=2, show_default=True,
              help="Independent TI repeats per (phase, T).")
@click.option("--steps", type=int, default=None,
              help="λ-integration production steps per node (default 4000).")
@click.option("--theta-steps", type=int, default=4000, show_default=True,
              help="Production steps per θ-integration end point.")
@click.option("--out", type=click.Path(file_okay=False), default="validation-output/ti",
              show_default=True, help="TI checkpoints and cached results (rerun to resume).")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Deviation plot (PNG).")
@click.option("--markdown", type=click.Path(dir_okay=False), default=None,
              help="Write the tables as Markdown to this file.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), default=None,
              help="Write the full report as JSON to this file.")
@click.option("--progress/--no-progress", default=None,
              help="Progress on stderr (default: bars on a terminal, else a line every 10 % "
                   "or 30 s).")
@pressures_option(help_text="Pressures in GPa: compare G and V* of D-DOS (multi-volume archive) "
                  "with NPT + TI of the potential instead (θ0 only).")
@click.option("--npt-steps", type=int, default=10_000, show_default=True,
              help="With -P: production steps of each NPT run.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@handle_errors
def command(archive, potential, temperatures, n_thetas, scale, seed, extra, phases, repeats,
            steps, theta_steps, out, plot, markdown, report_path, progress, pressures,
            npt_steps, as_json) -> None:
    """TI of the potential (and of perturbed θ) on the ARCHIVE's cells, against D-DOS:
    per-atom deviations with both error bars, ΔF between phases, and the cost of each route.
    With -P: G(P, T) and V*(P, T) against NPT + TI at each pressure."""
    from ..errors import PhasetuneError
    from ..jsonutil import to_jsonable
    from ..validation.api import validate
    from ..validation.report import markdown_tables, plot_validation
    from ..validation.runs import TISettings

    pot = resolve_potential(potential)
    if not isinstance(pot, LinearPotential):
        raise PhasetuneError(f"{potential} is not a linear (SNAP) potential",
                             "D-DOS validates potentials linear in the descriptors")
    extras = {}
    for item in extra:
        name, _, rest = item.partition("=")
        path, _, temps = rest.partition("@")
        if not name or not path:
            raise PhasetuneError(f"--extra {item!r} is not NAME=FILE[@T,…]")
        theta = resolve_potential(path).theta
        extras[name] = (theta, [float(t) for t in temps.split(",")] if temps else None)
    show = resolve_mode(progress)  # a bar on a terminal, one-line reports in a log
    if pressures:
        _validate_pressure(archive, pot, temperatures, pressures, phases, out, repeats, steps,
                           npt_steps, seed, show, report_path, as_json)
        return
    report = validate(archive, pot, temperatures, n_thetas=n_thetas, scale=scale, seed=seed,
                      out=out, settings=TISettings(repeats, steps, theta_steps),
                      phases=list(phases) or None, extra=extras, progress=show)
    tables = markdown_tables(report)
    if plot:
        plot_validation(report, plot)
    if markdown:
        Path(markdown).write_text(tables)
    if report_path:
        Path(report_path).write_text(json.dumps(to_jsonable(report.to_dict()), indent=1,
                                                ensure_ascii=False))
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(tables)


def _validate_pressure(archive, pot, temperatures, pressures, phases, out, repeats, steps,
                       npt_steps, seed, show, report_path, as_json) -> None:
    """``validate -P``: G and V* of D-DOS against NPT + TI."""
    from ..jsonutil import to_jsonable
    from ..validation.pressure import validate_pressure

    report = validate_pressure(archive, pot, temperatures, pressures, phases=list(phases) or None,
                               out=out, repeats=repeats, steps=steps, npt_steps=npt_steps,
                               seed=seed, progress=show)
    if report_path:
        Path(report_path).write_text(json.dumps(to_jsonable(report), indent=1,
                                                ensure_ascii=False))
    if as_json:
        emit_json(report)
        return
    click.echo(f"{report['archive']}, {report['potential']}: G^(3N-3) per atom, D-DOS against "
               "NPT + TI")
    click.echo(f"{'phase':>6} {'P (GPa)':>8} {'T (K)':>7} {'G_DDOS':>12} {'G_TI':>12} "
               f"{'dG (meV)':>9} {'σ (meV)':>8} {'V*_DDOS':>8} {'<V>_MD':>8} {'dV (%)':>7} "
               f"{'solved':>6}")
    for r in report["rows"]:
        click.echo(f"{r['phase']:>6} {r['P_GPa']:8.2f} {r['T']:7.0f} {r['G_DDOS']:12.6f} "
                   f"{r['G_TI']:12.6f} {1e3 * r['dG']:9.3f} "
                   f"{1e3 * (r['sigma_DDOS'] ** 2 + r['sigma_TI'] ** 2) ** 0.5:8.3f} "
                   f"{r['V_DDOS']:8.4f} {r['V_MD']:8.4f} {100 * r['dV_rel']:7.3f} "
                   f"{'yes' if r['solved'] else 'NO':>6}")
    s = report["summary"]
    if "coverage" in s:
        click.echo(f"solved {s['solved']}/{s['rows']}: max |dG| = {1e3 * s['max_abs_dG_eV']:.3f} "
                   f"meV/atom, max |dV| = {100 * s['max_abs_dV_rel']:.3f} %, coverage "
                   f"{100 * s['coverage']:.0f} %; targets met: {s['targets_met']}")
