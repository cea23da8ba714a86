"""``phasetune coexist``: melting temperature T_m(P) of a potential by solid–liquid coexistence."""

from __future__ import annotations

import click

from ..progress import resolve_mode
from .common import emit_json, handle_errors
from .options import GreedyOption, potential_option, resolve_potential


def _print_result(d: dict) -> None:
    click.echo(f"{d['structure']}, potential {d['potential']['name']}, P = "
               f"{d['pressure_GPa']:g} GPa, T_guess = {d['T_guess']:g} K, coupling "
               f"{d['settings']['coupling']} (NPH two-phase runs)")
    runs_text = "n/a" if d["sigma_runs"] is None else f"{d['sigma_runs']:.1f}"
    click.echo(f"T_m = {d['T_m']:.1f} ± {d['sigma']:.1f} K (σ_runs {runs_text} K, σ_block "
               f"{d['sigma_block']:.1f} K), P_zz = {d['pressure_mean_GPa']:.3f} GPa, "
               f"{len(d['runs'])} runs, CPU {d['cpu_seconds']:.0f} s")
    click.echo(f"{'run':>4} {'T_m (K)':>9} {'σ (K)':>7} {'P_zz (GPa)':>11} {'solid start→end':>16} "
               f"{'plateau (ps)':>13} {'drift':>7} {'CPU s':>7}")
    for r in d["runs"]:
        window = f"{r['plateau_ps'][0]:.1f}–{r['plateau_ps'][1]:.1f}"
        click.echo(f"{r['run']:4d} {r['T_m']:9.1f} {r['sigma']:7.1f} {r['pressure_GPa']:11.3f} "
                   f"{r['fraction_start']:7.2f} → {r['fraction_end']:.2f} {window:>13} "
                   f"{r['energy_drift']:7.3f} {r['cpu_seconds']:7.0f}")
    c = d["crystal"]
    click.echo(f"crystal at T_guess: V = {c['volume']:.4f} ± {c['sigma_volume']:.4f} Å³/atom; "
               "energy drift in meV/atom/ps")
    for w in d["warnings"]:
        click.echo(f"warning: {w}", err=True)


def _print_bracket(d: dict) -> None:
    click.echo(f"{d['structure']}, potential {d['potential']['name']}, P = "
               f"{d['pressure_GPa']:g} GPa (thermostatted two-phase runs)")
    click.echo(f"T_m in [{d['T_low']:g}, {d['T_high']:g}] K: {d['T_m']:.1f} ± "
               f"{d['half_width']:.1f} K (half the bracket), CPU {d['cpu_seconds']:.0f} s")
    click.echo(f"{'T (K)':>8} {'verdict':>14} {'drift (1/ps)':>18} {'solid start→end':>16}")
    for p in d["points"]:
        click.echo(f"{p['T']:8.1f} {p['verdict']:>14} {p['drift']:+9.4f} ± {p['drift_error']:.4f}"
                   f" {p['fraction_start']:7.2f} → {p['fraction_end']:.2f}")
    for note in d["notes"]:
        click.echo(f"note: {note}", err=True)


@click.command("coexist")
@potential_option
@click.option("--structure", required=True, help="Prototype: bcc, fcc or hcp.")
@click.option("--element", default=None, help="Chemical symbol (default: the potential's).")
@click.option("-P", "--pressure", type=float, default=0.0, show_default=True,
              help="Pressure, GPa.")
@click.option("--T-guess", "t_guess", type=float, default=None,
              help="Starting temperature, K (within a few hundred K of the melting point).")
@click.option("--bracket", type=float, nargs=2, default=None, metavar="T_LOW T_HIGH",
              help="Instead of NPH: thermostatted two-phase runs at T_LOW and T_HIGH (K; the "
                   "crystal must grow at the first and melt at the second), then bisection.")
@click.option("--bisections", type=click.IntRange(min=0), default=2, show_default=True,
              help="Bisections of the bracket (with --bracket).")
@click.option("--cells", cls=GreedyOption, type=int, multiple=True,
              help="Supercell repetitions, the long axis last: --cells 4 4 16 (the default).")
@click.option("--volume", type=float, default=None,
              help="Starting volume per atom, Å³ (default: a quasi-harmonic estimate).")
@click.option("--runs", type=click.IntRange(min=1), default=3, show_default=True,
              help="Independent runs (different seeds); T_m is their mean.")
@click.option("--steps", type=click.IntRange(min=1), default=10_000, show_default=True,
              help="NPH production steps per run (the last half is the plateau); with "
                   "--bracket, thermostatted steps per temperature.")
@click.option("--timestep", type=float, default=0.002, show_default=True, help="Timestep, ps.")
@click.option("--coupling", type=click.Choice(["z", "aniso"]), default="z", show_default=True,
              help="Barostat of the two-phase runs: the long axis only, or x, y, z each.")
@click.option("--seed", type=int, default=0, show_default=True, help="Base random seed.")
@click.option("--checkpoint", type=click.Path(dir_okay=False), default=None,
              help="JSON file of finished stages; rerunning with it resumes (and may add runs).")
@click.option("--progress/--no-progress", default=None,
              help="Progress on stderr (default: a bar on a terminal, else a line every 10 % "
                   "or 30 s).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@handle_errors
def command(potential, structure, element, pressure, t_guess, bracket, bisections, cells, volume,
            runs, steps, timestep, coupling, seed, checkpoint, progress, as_json) -> None:
    """Melting temperature at pressure P by solid–liquid coexistence: an elongated crystal is
    equilibrated at (P, T_guess), half of it is melted, and at constant enthalpy (NPH) the
    temperature settles at the melting point while both phases coexist.  T_m is the mean
    plateau temperature over independent runs.  A run that melts or freezes completely stops
    with an error saying what to change.  With --bracket, thermostatted two-phase runs bracket
    T_m instead (the crystal grows below it and melts above it)."""
    from ..errors import PhasetuneError, StructureError
    from ..ti.coexistence import CoexistenceSettings, coexistence_melting

    if cells and len(cells) != 3:
        raise StructureError(f"--cells takes three integers (the long axis last), got "
                             f"{len(cells)}", "e.g. --cells 4 4 16")
    if (t_guess is None) == (bracket is None):
        raise PhasetuneError("give either --T-guess (NPH runs) or --bracket T_LOW T_HIGH",
                             "e.g. --T-guess 3000")
    pot = resolve_potential(potential, element)
    common = dict(pressure_GPa=pressure, cells=tuple(cells) if cells else (4, 4, 16),
                  steps=steps, timestep=timestep, seed=seed, progress=resolve_mode(progress),
                  volume=volume, settings=CoexistenceSettings(coupling=coupling))
    if bracket is not None:
        from ..ti.coexistence_bracket import coexistence_bracket

        found = coexistence_bracket(structure, element, pot, T_low=bracket[0],
                                    T_high=bracket[1], bisections=bisections, **common)
        if as_json:
            emit_json(found.to_dict())
        else:
            _print_bracket(found.to_dict())
        return
    result = coexistence_melting(structure, element, pot, T_guess=t_guess, runs=runs,
                                 checkpoint=checkpoint, **common)
    if as_json:
        emit_json(result.to_dict())
    else:
        from ..jsonutil import to_jsonable

        _print_result(to_jsonable(result.to_dict()))
