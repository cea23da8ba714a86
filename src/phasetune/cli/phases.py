"""``phasetune phases``: ΔF(T) between phases, stable phase, T_c (with ∂T_c/∂θ), ensembles."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from ..conventions import Conventions
from ..errors import PhasetuneError
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


def temperature_grid(values: tuple[float, ...], points: int) -> np.ndarray:
    """Two values: a range with ``points`` points; more: the values themselves."""
    if len(values) == 2:
        return np.linspace(min(values), max(values), points)
    return np.sort(np.asarray(values, dtype=float))


@click.command("phases")
@click.argument("archives", nargs=-1, required=True, type=click.Path(exists=True,
                                                                      dir_okay=False))
@click.option("--potential", required=True, help="lammps:NAME or a SNAP file.")
@temperature_option(required=False)
@click.option("--points", type=int, default=60, show_default=True,
              help="Grid points when -T gives a range (two values).")
@click.option("--theta-file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A θ ensemble (one per row): distributions of T_c.")
@pressures_option(help_text="Pressures in GPa: ΔG, stable phase and T_c at each (from the "
                  "volumes sampled).")
@volume_degree_option
@modes_option
@degree_option
@route_option
@click.option("--json", "as_json", is_flag=True)
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="F(T) per phase and ΔF(T) with bands (and the T_c histogram) to this PNG "
                   "(one PNG per pressure, suffixed _<P>GPa, when several).")
@handle_errors
def command(archives, potential, temperatures, points, theta_file, pressures, volume_degree,
            modes, degree, route, as_json, plot) -> None:
    """Which phase is stable, the transition temperatures and how sure we are (at fixed
    volume, or at each pressure with -P)."""
    from ..estimator.store import check_potential, load_phase_estimators

    pot = resolve_potential(potential)
    grid = temperature_grid(temperatures or (100.0, 3000.0), points)
    if pressures:
        _isobars(archives, pot, grid, theta_file, pressures, volume_degree, modes, degree, route,
                 as_json, plot)
        return
    estimators = load_phase_estimators([Path(a) for a in archives], Conventions(modes=modes),
                                       degree, route)
    for est in estimators.values():
        check_potential(pot, est.phase_volume)
    payload, comparison, ensemble = _compare(estimators, pot, grid, theta_file, plot)
    notes = [f"{name}: {len(pvs)} volumes sampled; this compares the smallest "
             f"({pvs[0].reference.volume:g} Å³/atom); -P compares G at pressure"
             for name, pvs in _every_volume(archives).items() if len(pvs) > 1]
    if as_json:
        emit_json({**payload, "notes": notes})
        return
    for note in notes:
        click.echo(f"note: {note}", err=True)
    _print_table(comparison, pot.name, ensemble)


def _every_volume(archives) -> dict:
    """phase → its PhaseVolumes (increasing volume) over the archives."""
    from ..archive.hdf5 import read_archive

    out = {}
    for path in archives:
        data = read_archive(path)
        out.update({name: data.volumes(name) for name in data.phases})
    return out


def _compare(estimators, pot, grid, theta_file, plot, pressure: float | None = None):
    """ΔF (or ΔG on an isobar), stable phase, T_c and the θ ensemble; the optional plot."""
    from ..phases.ensembles import ensemble_transition
    from ..phases.stability import compare_phases
    from ..plots import plot_phase_stability

    comparison = compare_phases(estimators, pot.theta, grid, beta0=pot.beta0())
    payload = {"potential": pot.name, **comparison.to_dict()}
    ensemble = {}
    if theta_file:
        thetas = read_thetas(theta_file, next(iter(estimators.values())).n_components)
        names = list(estimators)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                ens = ensemble_transition(estimators[a], estimators[b], thetas, grid)
                ensemble[f"{a}/{b}"] = ens
                payload.setdefault("ensemble", {})[f"{a}/{b}"] = {
                    **ens.summary(), "T_c": ens.T_c}
    if plot:
        title = pot.name if pressure is None else f"{pot.name}, P = {pressure:g} GPa"
        plot_phase_stability(comparison, plot, title=title, ensemble=ensemble)
    return payload, comparison, ensemble


def _isobars(archives, pot, grid, theta_file, pressures, volume_degree, modes, degree, route,
             as_json, plot) -> None:
    """``phases -P``: the comparison on each isobar (G instead of F)."""
    from ..constants import GPA_TO_EV_PER_A3
    from ..estimator.store import check_potential
    from ..pressure.loading import load_pressure_phases

    phases = load_pressure_phases(archives, conventions=Conventions(modes=modes), degree=degree,
                                  route=route, volume_degree=volume_degree)
    for ph in phases.values():
        for est in ph.estimators:
            check_potential(pot, est.phase_volume)
    out = []
    for press in pressures:
        isobars = {n: ph.isobar(press * GPA_TO_EV_PER_A3) for n, ph in phases.items()}
        target = plot
        if plot and len(pressures) > 1:
            path = Path(plot)
            target = str(path.with_name(f"{path.stem}_{press:g}GPa{path.suffix}"))
        payload, comparison, ensemble = _compare(isobars, pot, grid, theta_file, target, press)
        payload["phases"] = {n: {**v, "volume": comparison.predictions[n].volume[:, 0]}
                             for n, v in payload["phases"].items()}
        melting = _melting(phases, pot, grid, press)
        if melting:
            payload["melting"] = [m.to_dict() for m in melting]
        out.append({"P_GPa": press, "quantity": "G (Gibbs, eV/atom) in place of F", **payload})
        if not as_json:
            com = " and the free centre-of-mass term (a liquid is compared)" if melting else ""
            click.echo(f"P = {press:g} GPa (G per atom; volumes from the F(V) surfaces{com})")
            _print_table(comparison, pot.name, ensemble)
            for m in melting:
                click.echo(f"melting: {m.message()}")
    if as_json:
        emit_json({"potential": pot.name, "pressures_GPa": list(pressures), "isobars": out})


def _melting(phases, pot, grid, press: float) -> list:
    """T_m with ΔH_m, ΔV_m and dT_m/dP for every crystal–liquid pair (none without a liquid)."""
    from ..phases.melting import melting_point

    liquids = [n for n, ph in phases.items() if ph.phase_volume.liquid]
    return [melting_point(phases[s], phases[q], pot.theta, press, grid, pot.beta0())
            for q in liquids for s in phases if s not in liquids]


def _print_table(comparison, name, ensemble) -> None:
    names = list(comparison.predictions)
    click.echo(f"{name}: F per atom (eV), σ in meV; '*' marks unsolved points")
    header = f"{'T (K)':>8} " + " ".join(f"{'F_' + n:>13} {'σ':>5}" for n in names)
    click.echo(header + f" {'stable':>7}")
    for k, t in enumerate(comparison.temperatures):
        cells = []
        for n in names:
            p = comparison.predictions[n]
            mark = " " if p.solved[k, 0] else "*"
            cells.append(f"{p.F_total[k, 0]:12.5f}{mark} {1e3 * p.sigma_F[k, 0]:5.2f}")
        click.echo(f"{t:8.1f} " + " ".join(cells) + f" {comparison.stable[k] or '-':>7}")
    for pair, items in comparison.transitions.items():
        for tr in items:
            if tr.kind == "root":
                flag = "" if tr.solved else " (bracket not fully solved)"
                click.echo(f"T_c({tr.low}→{tr.high}) = {tr.T_c:.1f} ± {tr.sigma_Tc:.1f} K"
                           f"{flag}")
            elif tr.kind in ("above", "below"):
                sign = ">" if tr.kind == "above" else "<"
                click.echo(f"{pair}: no transition in the solved range; T_c {sign} "
                           f"{tr.bound:.0f} K ({tr.low} stable there)")
            else:
                click.echo(f"{pair}: no transition in the solved range")
    for pair, ens in ensemble.items():
        s = ens.summary()
        if "mean" in s:
            click.echo(f"ensemble {pair}: T_c = {s['mean']:.1f} ± {s['std']:.1f} K over "
                       f"{s['n_models']} models ({100 * s['solved_fraction']:.0f}% solved)")
        else:
            raise PhasetuneError(f"ensemble {pair}: no member has a solved transition")
