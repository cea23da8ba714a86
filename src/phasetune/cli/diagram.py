"""``phasetune diagram``: the P–T phase diagram of a potential from multi-volume archives."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from ..constants import GPA_TO_EV_PER_A3, KB
from ..conventions import Conventions
from .common import emit_json, handle_errors
from .estimate import read_thetas
from .options import (
    degree_option,
    modes_option,
    pressures_option,
    resolve_potential,
    route_option,
    temperature_option,
    volume_degree_option,
)
from .phases import temperature_grid


@click.command("diagram")
@click.argument("archives", nargs=-1, required=True, type=click.Path(exists=True,
                                                                      dir_okay=False))
@click.option("--potential", required=True, help="lammps:NAME or a SNAP file.")
@pressures_option(required=True, help_text="Pressure range in GPa: -P 0 10 (two values), or the "
                  "pressures themselves (three or more).")
@temperature_option
@click.option("--pressure-points", type=int, default=11, show_default=True,
              help="Grid points when -P gives a range.")
@click.option("--points", type=int, default=41, show_default=True,
              help="Temperature grid points when -T gives a range.")
@click.option("--theta-file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A θ ensemble (one per row): T_c(P) distributions per line.")
@volume_degree_option
@modes_option
@degree_option
@route_option
@click.option("--json", "as_json", is_flag=True)
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="The diagram (regions, lines with ±σ bands, unsolved grey) to this PNG.")
@handle_errors
def command(archives, potential, pressures, temperatures, pressure_points, points, theta_file,
            volume_degree, modes, degree, route, as_json, plot) -> None:
    """Stable phase over (P, T), the coexistence lines T_c(P) and P_c(T) with σ, ΔV, ΔH and the
    Clausius–Clapeyron check."""
    from ..estimator.store import check_potential
    from ..phases.diagram import phase_diagram
    from ..pressure.loading import load_pressure_phases

    pot = resolve_potential(potential)
    phases = load_pressure_phases(archives, conventions=Conventions(modes=modes), degree=degree,
                                  route=route, volume_degree=volume_degree)
    for ph in phases.values():
        for est in ph.estimators:
            check_potential(pot, est.phase_volume)
    p_grid = temperature_grid(pressures, pressure_points) * GPA_TO_EV_PER_A3
    t_grid = temperature_grid(temperatures, points)
    thetas = read_thetas(theta_file, next(iter(phases.values())).n_components) \
        if theta_file else None
    diagram = phase_diagram(phases, pot.theta, t_grid, p_grid, beta0=pot.beta0(), thetas=thetas)
    if plot:
        from ..plots import plot_phase_diagram

        plot_phase_diagram(diagram, plot, title=f"{pot.name}: D-DOS phase diagram")
    if as_json:
        emit_json({"potential": pot.name, "archives": [str(Path(a)) for a in archives],
                   "volumes": {n: ph.volumes.tolist() for n, ph in phases.items()},
                   **diagram.to_dict()})
        return
    _print(diagram, pot.name, phases)


def _print(diagram, name: str, phases) -> None:
    p = diagram.pressures / GPA_TO_EV_PER_A3
    t = diagram.temperatures
    click.echo(f"{name}: phases {', '.join(diagram.phases)}; volumes sampled (Å³/atom): "
               + "; ".join(f"{n} {ph.volumes[0]:g}–{ph.volumes[-1]:g} ({ph.volumes.size})"
                           for n, ph in phases.items()))
    letters = {k: n[0].upper() if sum(m[0] == n[0] for m in diagram.phases) == 1 else str(k)
               for k, n in enumerate(diagram.phases)}
    click.echo("stable phase (rows P, columns T; '.' = some phase not solved): "
               + ", ".join(f"{letters[k]} = {n}" for k, n in enumerate(diagram.phases)))
    step = max(1, t.size // 40)
    click.echo(f"{'P (GPa)':>8}  T = {t[0]:g} … {t[-1]:g} K")
    for i, press in enumerate(p):
        row = "".join(letters[k] if k >= 0 else "." for k in diagram.stable[i, ::step])
        click.echo(f"{press:8.2f}  {row}")
    for key, line in diagram.lines.items():
        click.echo(f"{key}: T_c(P) on isobars")
        click.echo(f"{'P (GPa)':>8} {'T_c (K)':>9} {'σ (K)':>7} {'low→high':>14} "
                   f"{'ΔV (Å³)':>9} {'ΔS (k_B)':>9} {'ΔH (meV)':>9} "
                   f"{'dT/dP CC':>9} {'numeric':>9} (K/GPa)")
        for k, pts in enumerate(line.isobars):
            for q in pts:
                if q.kind == "root":
                    flags = ("" if q.solved else " bracket not fully solved") + \
                        ("" if q.stable else " metastable (a third phase is lower)")
                    click.echo(
                        f"{p[k]:8.2f} {q.temperature:9.1f} {q.sigma_T:7.1f} "
                        f"{q.low + '→' + q.high:>14} {q.delta_volume:9.4f} "
                        f"{q.delta_entropy / KB:9.4f} {1e3 * q.delta_enthalpy:9.2f} "
                        f"{q.clapeyron * GPA_TO_EV_PER_A3:9.2f} "
                        f"{line.slope[k] * GPA_TO_EV_PER_A3:9.2f}{flags}")
                elif q.kind in ("above", "below"):
                    sign = ">" if q.kind == "above" else "<"
                    click.echo(f"{p[k]:8.2f}  no transition in the solved range: T_c {sign} "
                               f"{q.temperature:.0f} K ({q.low} stable there)")
                else:
                    click.echo(f"{p[k]:8.2f}  no transition in the solved range")
        iso = [q for pts in line.isotherms for q in pts]
        if iso:
            click.echo(f"{key}: P_c(T) on isotherms: " + ", ".join(
                f"{q.pressure / GPA_TO_EV_PER_A3:.2f} ± {q.sigma_P / GPA_TO_EV_PER_A3:.2f} GPa "
                f"at {q.temperature:g} K" for q in iso))
        for e, press in zip(line.ensemble, p if line.ensemble else [], strict=True):
            s = e.summary()
            if "mean" in s:
                click.echo(f"ensemble at {press:g} GPa: T_c = {s['mean']:.1f} ± {s['std']:.1f} K "
                           f"({100 * s['solved_fraction']:.0f}% solved)")
    if not np.any(diagram.stable >= 0):
        click.echo("warning: the phases are never all solved on this grid", err=True)
