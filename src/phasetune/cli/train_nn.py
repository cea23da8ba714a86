"""``phasetune train-nn``: fit an ML-IAP nn potential to a teacher potential and validate it in
LAMMPS (see :mod:`phasetune.training.nn_fit`)."""

from __future__ import annotations

import click

from .common import emit_json, handle_errors


@click.command("train-nn")
@click.argument("config", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the fit summary as JSON.")
@handle_errors
def command(config, as_json) -> None:
    """Fit the network of CONFIG (YAML: teacher, hidden layers, MD phases, fit settings,
    output) to the teacher's per-atom energies along its MD, write NAME.mliap (+ .model,
    .descriptor, .json) into the output folder, and report energy (meV/atom) and force (eV/Å)
    RMSEs of the written potential run by LAMMPS on held-out frames, per phase."""
    from ..training.nn_fit import load_nn_fit_spec, train_nn

    spec = load_nn_fit_spec(config)
    progress = None if as_json else (lambda label: click.echo(f"MD: {label}", err=True))
    summary = train_nn(spec, progress)
    if as_json:
        emit_json(summary)
        return
    click.echo(f"{summary['name']}: {summary['net']} ({summary['n_params']} parameters), "
               f"teacher {summary['teacher']}, written to {spec.output}")
    click.echo(f"{'phase':<10} {'frames':>6} {'E RMSE meV/atom':>16} {'F RMSE eV/Å':>12}")
    for phase, v in summary["validation"].items():
        click.echo(f"{phase:<10} {v['frames']:>6} {v['energy_rmse_meV_per_atom']:>16.3f} "
                   f"{v['force_rmse_eV_per_A']:>12.4f}")
    s = summary["seconds"]
    click.echo(f"time: data {s['data']:.0f} s, fit {s['fit']:.0f} s, total {s['total']:.0f} s")
