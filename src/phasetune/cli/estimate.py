"""``phasetune import-descriptordos``, ``fit`` and ``predict``: from archives to F(θ, T)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from .._version import __version__
from ..constants import KB
from ..conventions import Conventions
from ..errors import PhasetuneError
from .common import emit_json, handle_errors
from .options import (
    degree_option,
    modes_option,
    pressures_option,
    resolve_potential,
    route_option,
    temperature_option,
    volume_degree_option,
)


def read_thetas(path: str, n_components: int) -> np.ndarray:
    """θ per row from ``.npy`` or text; (n_models, N_D)."""
    p = Path(path)
    try:
        thetas = np.load(p) if p.suffix == ".npy" else np.loadtxt(p, ndmin=2)
    except (OSError, ValueError) as exc:
        raise PhasetuneError(f"cannot read θ file {path}: {exc}",
                             "give a .npy array or a text file with one θ per row") from exc
    thetas = np.atleast_2d(thetas)
    if thetas.shape[1] != n_components:
        raise PhasetuneError(f"{path}: rows have {thetas.shape[1]} values, the archive's "
                             f"descriptors have {n_components}",
                             "one θ per row, fixed components included (=1), β0 excluded")
    return thetas


@click.command("import-descriptordos")
@click.argument("pickles", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Archive to write (.h5).")
@click.option("--snapparam", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Descriptor hyper-parameters the data were sampled with.")
@handle_errors
def import_command(pickles, output, snapparam) -> None:
    """Convert reference-implementation (DescriptorDOS) pickles into one phasetune archive.

    Pickles are read through a restricted unpickler (arrays, numbers, strings, lists, dicts).
    """
    from ..archive.hdf5 import write_archive
    from ..archive.legacy import import_descriptordos

    volumes = [import_descriptordos(p, snapparam=snapparam) for p in pickles]
    metadata = {
        "conventions": Conventions().as_dict(),
        "sampler": {"flavour": "hessian", "source": "DescriptorDOS import"},
        "reference_potential": {"name": "unknown (imported)", "sources": list(pickles)},
        "provenance": {"imported_by": f"phasetune {__version__}",
                       "files": [pv.provenance for pv in volumes]},
    }
    write_archive(output, volumes, metadata)
    click.echo(f"wrote {output}: phases {', '.join(pv.reference.phase for pv in volumes)}")


@click.command("fit")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
@degree_option
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def fit_command(archive, degree, as_json) -> None:
    """Fit the shell entropies of every phase and store them beside the archive."""
    from ..archive.fits import fit_path
    from ..archive.hdf5 import read_archive
    from ..estimator.store import fitted

    data = read_archive(archive)
    report = []
    for phase in data.phases:
        for k, pv in enumerate(data.volumes(phase)):
            got = fitted(archive, phase, k, pv, degree)
            report.append({"phase": phase, "volume_index": k, "shells": len(got.fit.shells),
                           "refitted": got.refitted, "stored": got.stored, "note": got.note,
                           "version": got.fit.version, "notes": got.fit.notes})
    stored = all(r["stored"] for r in report)
    if as_json:
        emit_json({"fit_file": str(fit_path(archive)), "stored": stored, "fits": report})
        return
    for r in report:
        state = "fitted" if r["refitted"] else "up to date"
        click.echo(f"{r['phase']} v{r['volume_index']}: {r['shells']} shells, {state}"
                   + (f" ({r['note']})" if r["note"] else ""))
    if stored:
        click.echo(f"fits stored in {fit_path(archive)}")
    else:
        click.echo(f"fits NOT stored in {fit_path(archive)}: they are recomputed by each "
                   "predict; make the archive's folder writable to keep them", err=True)


@click.command("predict")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
@click.option("--potential", required=True, help="lammps:NAME or a SNAP file (θ and β0).")
@click.option("--theta-file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="θ per row (.npy or text) instead of the potential's θ.")
@temperature_option
@click.option("--phase", "phases", multiple=True, help="Only these phases (repeatable).")
@modes_option
@degree_option
@route_option
@pressures_option
@volume_degree_option
@click.option("--volume-index", type=int, default=0, show_default=True,
              help="Without -P: which sampled volume (0 = smallest).")
@click.option("--gradient", is_flag=True, help="Include D* = ∂F/∂θ (∂G/∂θ with -P).")
@click.option("--json", "as_json", is_flag=True)
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="F(T) with error bands (first model) to this PNG (G and V* with -P).")
@click.option("--no-range", is_flag=True,
              help="Without -P: do not look for each model's solved temperature range.")
@handle_errors
def predict_command(archive, potential, theta_file, temperatures, phases, modes, degree,
                    route, pressures, volume_degree, volume_index, gradient, as_json,
                    plot, no_range) -> None:
    """Free energies F(θ, T) per atom of each phase for a potential (or a θ ensemble), and the
    temperature range where each is solved; with -P, Gibbs free energies G(θ, P, T), V*, B_T,
    α_V and C_P from the sampled volumes."""
    from ..estimator.store import check_potential, load_volume_estimators

    pot = resolve_potential(potential)
    if pressures:
        _predict_pressure(archive, pot, theta_file, temperatures, phases, modes, degree, route,
                          pressures, volume_degree, gradient, as_json, plot)
        return
    every = load_volume_estimators(archive, phases=list(phases) or None,
                                   conventions=Conventions(modes=modes), degree=degree,
                                   route=route)
    for name, ests in every.items():
        if not 0 <= volume_index < len(ests):
            raise PhasetuneError(f"--volume-index {volume_index}: phase {name!r} has "
                                 f"{len(ests)} volume(s)", "use 0 … n − 1 (0 = smallest)")
    estimators = {name: ests[volume_index] for name, ests in every.items()}
    notes = [f"{name}: {len(ests)} volumes sampled; this is volume {volume_index} "
             f"({ests[volume_index].reference.volume:g} Å³/atom); -P gives G(P, T)"
             for name, ests in every.items() if len(ests) > 1]
    first = next(iter(estimators.values()))
    for est in estimators.values():
        check_potential(pot, est.phase_volume)
    thetas = read_thetas(theta_file, first.n_components) if theta_file else pot.theta[None]
    t = np.asarray(temperatures, dtype=float)
    preds = {n: e.predict(thetas, t, gradient=gradient, beta0=pot.beta0())
             for n, e in estimators.items()}
    notes += _refuse_left_basin(archive, pot, preds, bool(theta_file))
    ranges = {} if no_range else {n: e.solved_range(thetas) for n, e in estimators.items()}
    if plot:
        from ..plots import plot_free_energies

        plot_free_energies({n: (t, p.F_total[:, 0], p.sigma_F[:, 0], p.solved[:, 0])
                            for n, p in preds.items()},
                           plot, title=f"D-DOS free energy, {pot.name}")
    if as_json:
        emit_json({"archive": archive, "potential": pot.name, "n_models": len(thetas),
                   "volumes": {n: e.reference.volume for n, e in estimators.items()},
                   "notes": notes, "phases": {n: {**p.to_dict(), **_range_dict(p, ranges.get(n))}
                                              for n, p in preds.items()}})
        return
    for note in notes:
        click.echo(f"note: {note}", err=True)
    for name, p in preds.items():
        click.echo(f"{name}: {pot.name}, {len(thetas)} model(s), conventions "
                   f"{json.dumps(p.conventions, ensure_ascii=False)}")
        if name in ranges:
            _print_range(p, ranges[name])
        click.echo(f"{'T (K)':>8} {'F (eV/atom)':>14} {'σ_F (meV)':>10} {'F_vib':>10} "
                   f"{'α*':>8} {'solved':>6}")
        for k, temp in enumerate(t):
            click.echo(f"{temp:8.1f} {p.F_total[k, 0]:14.6f} {1e3 * p.sigma_F[k, 0]:10.3f} "
                       f"{p.F_vib[k, 0]:10.5f} {p.alpha_star[k, 0]:8.3f} "
                       f"{'yes' if p.solved[k, 0] else 'NO':>6}")
            if not p.solved[k, 0]:
                click.echo(f"{'':8} not solved: {'; '.join(p.reasons(k, 0))}")


def _refuse_left_basin(archive, pot, preds: dict, ensemble: bool) -> list[str]:
    """Apply the archive's basin record (``phasetune basin``) of this potential: its own θ is
    refused at and above the recorded temperature; an ensemble gets a note only."""
    from ..ti.basin_scan import potential_sha256, read_records, refuse_left_basin

    records, notes = read_records(archive), []
    for name, p in preds.items():
        scan = records.get(name, {}).get(potential_sha256(pot))
        if scan is None or scan.get("left_at") is None:
            continue
        if ensemble:
            notes.append(f"{name}: in MD, {pot.name} left this crystal's basin at "
                         f"{scan['left_at']:g} K (phasetune basin); the ensemble's models were "
                         "not scanned")
        else:
            refuse_left_basin(p, scan)
            notes.append(f"{name}: refused at {scan['left_at']:g} K and above: in MD the "
                         f"crystal left its basin there (phasetune basin)")
    return notes


def _range_dict(p, found) -> dict:
    """JSON of the solved range (per-model intervals for one model; the widest interval of each
    model and their common part for ensembles) and the fraction of models solved at each T."""
    if found is None:
        return {}
    return {"solved_range": found.to_dict(), "fraction_solved": p.solved.mean(axis=1).tolist()}


def _print_range(p, found) -> None:
    """One line per solved interval (first model), or the ensemble summary."""
    if found.n_models == 1:
        intervals = found.intervals[0]
        if not intervals:
            click.echo(f"solved nowhere in {found.window[0]:.0f}–{found.window[1]:.0f} K")
        for iv in intervals:
            click.echo(f"solved {iv.describe()}")
        return
    common = found.common()
    bounds = found.bounds()
    nowhere = int(np.isnan(bounds[:, 0]).sum())
    head = f"solved range over {found.n_models} models: "
    if nowhere == found.n_models:
        click.echo(head + "none is solved anywhere in "
                   f"{found.window[0]:.0f}–{found.window[1]:.0f} K")
    else:
        span = "none" if common is None else f"{common[0]:.0f}–{common[1]:.0f} K"
        click.echo(head + f"common {span} (each model's widest solved interval: median "
                   f"{np.nanmedian(bounds[:, 0]):.0f}–{np.nanmedian(bounds[:, 1]):.0f} K, "
                   f"extremes {np.nanmin(bounds[:, 0]):.0f}–{np.nanmax(bounds[:, 1]):.0f} K"
                   + (f"; {nowhere} solved nowhere" if nowhere else "") + ")")
    click.echo("models solved: " + ", ".join(
        f"{temp:g} K {100 * frac:.0f} %" for temp, frac in zip(p.temperatures,
                                                             p.solved.mean(axis=1),
                                                             strict=True)))


def _predict_pressure(archive, pot, theta_file, temperatures, phases, modes, degree, route,
                      pressures, volume_degree, gradient, as_json, plot) -> None:
    """``predict -P``: G(θ, P, T) of every phase (tables for the first model)."""
    from ..constants import GPA_TO_EV_PER_A3
    from ..estimator.store import check_potential
    from ..pressure.loading import load_pressure_phases

    loaded = load_pressure_phases([archive], conventions=Conventions(modes=modes),
                                  degree=degree, route=route, volume_degree=volume_degree)
    if phases:
        missing = [n for n in phases if n not in loaded]
        if missing:
            raise PhasetuneError(f"phase(s) {', '.join(missing)} not in {archive}",
                                 f"phases there: {', '.join(loaded)}")
        loaded = {n: loaded[n] for n in phases}
    for ph in loaded.values():
        for est in ph.estimators:
            check_potential(pot, est.phase_volume)
    first = next(iter(loaded.values()))
    thetas = read_thetas(theta_file, first.n_components) if theta_file else pot.theta[None]
    t = np.asarray(temperatures, dtype=float)
    p = np.asarray(pressures, dtype=float) * GPA_TO_EV_PER_A3
    res = {n: ph.predict(thetas, t, p, gradient=gradient, heat_capacity=True,
                         beta0=pot.beta0()) for n, ph in loaded.items()}
    if plot:
        from ..plots import plot_gibbs

        plot_gibbs(res, plot, title=f"D-DOS Gibbs free energy, {pot.name}")
    if as_json:
        emit_json({"archive": archive, "potential": pot.name, "n_models": len(thetas),
                   "phases": {n: g.to_dict() for n, g in res.items()}})
        return
    for name, g in res.items():
        click.echo(f"{name}: {pot.name}, {len(thetas)} model(s), volumes "
                   f"{g.volumes[0]:g}–{g.volumes[-1]:g} Å³/atom ({g.volumes.size}), F(V) degree "
                   f"{g.degree}")
        for k, press in enumerate(pressures):
            click.echo(f"  P = {press:g} GPa")
            click.echo(f"{'T (K)':>8} {'G (eV/atom)':>14} {'σ_G (meV)':>10} {'V* (Å³)':>9} "
                       f"{'B_T (GPa)':>9} {'α_V (1e-6/K)':>12} {'C_P (k_B)':>9} {'solved':>6}")
            for j, temp in enumerate(t):
                click.echo(
                    f"{temp:8.1f} {g.G[k, j, 0]:14.6f} {1e3 * g.sigma_G[k, j, 0]:10.3f} "
                    f"{g.volume[k, j, 0]:9.4f} {g.bulk_modulus[k, j, 0] / GPA_TO_EV_PER_A3:9.1f} "
                    f"{1e6 * g.expansion[k, j, 0]:12.2f} "
                    f"{g.heat_capacity[k, j, 0] / KB:9.3f} "
                    f"{'yes' if g.solved[k, j, 0] else 'NO':>6}")
                if not g.solved[k, j, 0]:
                    click.echo(f"{'':8} not solved: {'; '.join(g.reasons(k, j, 0))}")


commands = [import_command, fit_command, predict_command]
