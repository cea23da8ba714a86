"""``phasetune ti --structure liquid``: the liquid branch of the ``ti`` verb."""

from __future__ import annotations

import click

from ..errors import PhasetuneError
from ..structures.crystals import build_structure
from .common import emit_json


def check_liquid_options(method: str, pressure, curve: bool, sweep_to, kappa) -> None:  # noqa: ANN001
    """Options of the crystal routes that a liquid run cannot take."""
    for flag, used in (("--method frenkel-ladd", method != "lambda"),
                       ("--pressure", pressure is not None), ("--curve", curve),
                       ("--sweep-to", sweep_to is not None), ("--kappa", kappa is not None)):
        if used:
            raise PhasetuneError(f"{flag} is a crystal option and cannot be used with "
                                 "--structure liquid", f"drop {flag.split()[0]}")


def liquid_cell(pot, lattice, element, volume, lattice_constant, cells, mass):  # noqa: ANN001
    """The crystal the liquid is melted from (``--lattice``, default bcc), marked as liquid."""
    atoms = build_structure(pot, lattice or "bcc", None, element, volume, lattice_constant,
                            cells, mass)
    atoms.info.update(lattice=atoms.info["structure"], structure="liquid")
    return atoms


def print_liquid(result) -> None:  # noqa: ANN001
    d = result.to_dict()
    uf = d["uf"]
    click.echo(f"{d['structure']}, potential {d['potential']['name']}, Uhlenbeck–Ford reference "
               f"p = {uf['p']:g}, σ = {uf['sigma']:g} Å (classical NVT)")
    click.echo(f"V_box = {d['volume_box']:.3f} Å³; F = F_3N-3 = F_phys − f_trans "
               "(the convention of a one-atom-basis crystal, COM fixed)")
    click.echo(f"{'T (K)':>9} {'F (eV/atom)':>14} {'σ (meV)':>9} {'F_phys':>13} {'P (GPa)':>9} "
               f"{'D (Å²/ps)':>10} {'repeats':>7} {'CPU s':>8}")
    for p in d["temperatures"]:
        e = p["endpoint"]
        click.echo(f"{p['T']:9.1f} {p['F']:14.6f} {1e3 * p['sigma']:9.3f} {p['F_phys']:13.6f} "
                   f"{e.get('P_GPa', float('nan')):9.3f} {e.get('D') or float('nan'):10.3f} "
                   f"{p['n_repeats']:7d} {p['cpu_seconds']:8.1f}")
        c = p["components"]
        click.echo(f"          F_id = {c['F_id']:.6f}, F_ex_UF = {c['F_ex_UF']:.6f}, "
                   f"dF_switch = {c['dF_switch']:.6f}, f_trans = {c['f_trans']:.6f} eV/atom; "
                   f"x = bρ = {c['x']:.4g}")
        check = p["liquid_check"]
        if check:
            click.echo(f"          liquid in all {check['segments']} segments: "
                       f"{'yes' if check['all_liquid'] else 'no'}, largest solid-like fraction "
                       f"{check['max_solid_fraction']:.2f}, largest S(k)/N {check['max_sk']:.3f}")
    for w in d["warnings"]:
        click.echo(f"warning: {w}", err=True)


def run_liquid(atoms, pot, temperatures, repeats, steps, nodes, seed, checkpoint, progress,  # noqa: ANN001
               uf_p, uf_sigma, timestep, as_json, plot) -> None:
    """Run :func:`~phasetune.ti.liquid_free_energy` and print or emit the result."""
    from ..ti import LiquidMDSettings, LiquidSettings, UFSettings, liquid_free_energy

    uf = UFSettings(p=uf_p, sigma=uf_sigma)
    md = LiquidMDSettings(timestep=timestep) if timestep is not None else LiquidMDSettings()
    result = liquid_free_energy(atoms, pot, temperatures, repeats=repeats, steps=steps,
                                seed=seed, checkpoint=checkpoint, progress=progress, uf=uf,
                                lambda_settings=LiquidSettings(n_nodes=nodes), md_settings=md)
    if plot:
        from ..plots import plot_free_energies

        plot_free_energies({result.structure: (result.temperatures, result.F, result.sigma)},
                           plot, title=f"liquid TI free energy (F_3N-3), {pot.name}")
    if as_json:
        emit_json(result.to_dict())
    else:
        print_liquid(result)
