"""``phasetune harmonic``: classical harmonic free energies of a crystal for a potential."""

from __future__ import annotations

import click

from ..conventions import Conventions
from ..harmonic.analysis import harmonic_analysis
from ..progress import is_terminal, progress_bar
from ..structures.crystals import build_structure
from .common import emit_json, handle_errors
from .options import (
    potential_option,
    resolve_potential,
    structure_options,
    temperature_option,
)


@click.command("harmonic")
@structure_options
@potential_option
@temperature_option
@click.option("--modes", type=click.Choice(["3N", "3N-3"]), default="3N", show_default=True,
              help="Mode count: 3 per atom, or 3N−3 with the centre of mass fixed.")
@click.option("--step", type=float, default=1e-3, show_default=True,
              help="Finite-difference step for the Hessian, Å.")
@click.option("--no-cache", is_flag=True, help="Recompute the Hessian even if cached.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Write F(T) to this PNG.")
@click.option("--quiet", is_flag=True, help="No progress bar for the Hessian.")
@handle_errors
def command(structure, structure_file, element, volume, lattice_constant, cells, mass,
            potential, temperatures, modes, step, no_cache, as_json, plot, quiet) -> None:
    """Relax a crystal, compute its Hessian and print F_harmonic(T) and E0 per atom."""
    pot = resolve_potential(potential, element)
    atoms = build_structure(pot, structure, structure_file, element, volume, lattice_constant,
                            cells, mass)
    # a bar on a terminal (the Hessian of 100+ atoms takes tens of seconds), else nothing
    show = "off" if quiet or as_json or not is_terminal() else "bar"
    with progress_bar(3 * len(atoms), "Hessian", show, unit="coordinate") as bar:
        result = harmonic_analysis(atoms, pot, temperatures, Conventions(modes=modes),
                                   step=step, use_cache=not no_cache, progress=bar.update)
    if plot:
        from ..plots import plot_free_energies

        plot_free_energies({result.structure: (result.temperatures, result.F, None)}, plot,
                           title=f"Harmonic free energy, {pot.name}")
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo(f"{result.structure}, potential {pot.name}, modes {modes} (classical)")
    click.echo(f"E0 = {result.E0:.6f} eV/atom, ω̄ = {result.omega_bar:.4f} eV/Å², "
               f"⟨ν⟩/2π = {result.mean_frequency_thz:.3f} THz")
    click.echo(f"{'T (K)':>10} {'F_harmonic (eV/atom)':>22} {'F (eV/atom)':>16}")
    for t, f in zip(result.temperatures, result.F_harmonic, strict=True):
        click.echo(f"{t:10.1f} {f:22.6f} {result.E0 + f:16.6f}")
