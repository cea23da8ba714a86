"""``phasetune ti``: classical free energy per atom of a crystal by thermodynamic integration."""

from __future__ import annotations

import click

from ..constants import GPA_TO_EV_PER_A3
from ..conventions import Conventions
from ..errors import PhasetuneError
from ..progress import resolve_mode
from ..structures.crystals import STRUCTURES, build_structure
from .common import emit_json, handle_errors
from .options import (
    potential_option,
    resolve_potential,
    structure_options,
    temperature_option,
)


def _print_result(result, modes: str) -> None:
    d = result.to_dict()
    click.echo(f"{d['structure']}, potential {d['potential']['name']}, {d['method']}, "
               f"modes {modes} (classical NVT, COM fixed in the MD)")
    click.echo(f"E0 = {d['E0']:.6f} eV/atom, N_trans = {d['n_trans']}, "
               f"V_box = {d['volume_box']:.3f} Å³")
    click.echo(f"{'T (K)':>9} {'F (eV/atom)':>14} {'σ (meV)':>9} {'F_3N-3':>13} {'F_3N':>13} "
               f"{'F_phys':>13} {'repeats':>7} {'CPU s':>8}")
    for p in d["temperatures"]:
        click.echo(f"{p['T']:9.1f} {p['F']:14.6f} {1e3 * p['sigma']:9.3f} {p['F_3N-3']:13.6f} "
                   f"{p['F_3N']:13.6f} {p['F_phys']:13.6f} {p['n_repeats']:7d} "
                   f"{p['cpu_seconds']:8.1f}")
        comps = ", ".join(f"{k} = {v:.6g}" for k, v in p["components"].items())
        click.echo(f"          {comps}")
    for row in d.get("gibbs_helmholtz", []):
        click.echo(f"Gibbs–Helmholtz check at {row['T']:g} K: F_GH − F_TI = "
                   f"{1e3 * row['difference']:+.3f} ± {1e3 * row['sigma_GH']:.3f} meV/atom")
    for w in d["warnings"]:
        click.echo(f"warning: {w}", err=True)


def _print_curve(curve, modes: str) -> None:
    d = curve.to_dict()
    a = d["anchor"]
    click.echo(f"{d['structure']}, potential {d['potential']['name']}, {d['method']}, "
               f"modes {modes}; anchor T = {a['T']:g} K: F = {a['F']:.6f} ± "
               f"{1e3 * a['sigma']:.3f} meV")
    click.echo(f"{'T (K)':>9} {'F (eV/atom)':>14} {'σ (meV)':>9} {'U_anh (meV)':>12}")
    for row in d["temperatures"]:
        u = row["endpoint"]["U_anharmonic"] if row["endpoint"] else float("nan")
        click.echo(f"{row['T']:9.1f} {row['F']:14.6f} {1e3 * row['sigma']:9.3f} {1e3 * u:12.3f}")
    for w in d["warnings"]:
        click.echo(f"warning: {w}", err=True)


def _print_gibbs(result, modes: str) -> None:
    d = result.to_dict()
    click.echo(f"{d['structure']}, potential {d['potential']['name']}, {d['method']}, "
               f"P = {d['pressure_GPa']:g} GPa, modes {modes} (classical, COM fixed in the MD)")
    click.echo(f"{'T (K)':>9} {'G (eV/atom)':>14} {'σ (meV)':>9} {'V (Å³/atom)':>12} "
               f"{'σ_V':>8} {'F (eV/atom)':>14} {'P check (GPa)':>16}")
    for p in d["temperatures"]:
        c = p["pressure_check"]
        click.echo(f"{p['T']:9.1f} {p['G']:14.6f} {1e3 * p['sigma']:9.3f} {p['volume']:12.4f} "
                   f"{p['sigma_volume']:8.4f} {p['F']:14.6f} "
                   f"{c['P_GPa']:8.3f} ± {c['sigma_GPa']:.3f}")
    for w in d["warnings"]:
        click.echo(f"warning: {w}", err=True)


def _print_sweep(result, modes: str) -> None:
    d = result.to_dict()
    click.echo(f"{d['structure']}, potential {d['potential']['name']}, {d['method']}, "
               f"P = {d['pressure_GPa']:g} GPa, modes {modes}")
    click.echo(f"{'T (K)':>9} {'G (eV/atom)':>14} {'σ (meV)':>9} {'hyst/2':>8} "
               f"{'V (Å³/atom)':>12}")
    for r in d["temperatures"]:
        click.echo(f"{r['T']:9.1f} {r['G']:14.6f} {1e3 * r['sigma']:9.3f} "
                   f"{1e3 * r['sigma_hysteresis']:8.3f} {r['volume']:12.4f}")
    for w in d["warnings"]:
        click.echo(f"warning: {w}", err=True)


def _check_pressure_options(pressure, sweep_to, curve, temperatures) -> None:
    if sweep_to is not None and pressure is None:
        raise PhasetuneError("--sweep-to needs --pressure (reversible scaling runs at fixed "
                             "pressure)", "add --pressure 0 for a sweep at zero pressure")
    if pressure is not None and curve:
        raise PhasetuneError("--curve is a fixed-volume route and cannot be combined with "
                             "--pressure", "use --sweep-to T1 for G(T) at fixed pressure")
    if sweep_to is not None and len(temperatures) != 1:
        raise PhasetuneError(f"--sweep-to takes one anchor temperature (-T), got "
                             f"{len(temperatures)}", f"give -T T0 with T0 < {sweep_to:g} K")


@click.command("ti")
@structure_options
@potential_option
@temperature_option
@click.option("--method", type=click.Choice(["lambda", "frenkel-ladd"]), default="lambda",
              show_default=True,
              help="λ-integration from the harmonic reference, or Frenkel–Ladd switching.")
@click.option("--repeats", type=int, default=3, show_default=True,
              help="Independent repeats per temperature (the error bar is their spread).")
@click.option("--steps", type=int, default=None,
              help="MD steps per λ node (lambda) or per switch (frenkel-ladd); equilibration "
                   "is a quarter of it.  Default 4000 / 16000.  Liquid: per switch node and "
                   "at λ = 1 (5× per Uhlenbeck–Ford node).")
@click.option("--nodes", type=int, default=8, show_default=True,
              help="Gauss–Legendre nodes in λ (lambda, and the liquid's switch).")
@click.option("--kappa", type=float, default=None,
              help="Einstein spring constant, eV/Å² (frenkel-ladd; default from the Hessian).")
@click.option("--seed", type=int, default=0, show_default=True, help="Base random seed.")
@click.option("--checkpoint", type=click.Path(dir_okay=False), default=None,
              help="JSON file of finished repeats; rerunning with it resumes.")
@click.option("--modes", type=click.Choice(["3N", "3N-3"]), default="3N", show_default=True,
              help="Variant reported as F (all variants are in the JSON).")
@click.option("--curve", is_flag=True,
              help="TI only at the lowest temperature; F at the others by Gibbs–Helmholtz "
                   "integration of ⟨U⟩(T) from NVT MD (give a dense -T grid).")
@click.option("--pressure", type=float, default=None,
              help="Pressure in GPa: NPT mean cell at each T, TI there, G = F + PV.")
@click.option("--npt-steps", type=int, default=10_000, show_default=True,
              help="Production steps of each NPT run (with --pressure).")
@click.option("--sweep-to", type=float, default=None,
              help="With --pressure and one -T (T0): G(T) from T0 to this temperature (K) by "
                   "reversible scaling (forward and backward sweeps).")
@click.option("--sweep-steps", type=int, default=20_000, show_default=True,
              help="MD steps of each reversible-scaling sweep.")
@click.option("--sweep-points", type=int, default=21, show_default=True,
              help="Temperatures of the reported G(T) grid from T0 to --sweep-to.")
@click.option("--lattice", type=click.Choice(list(STRUCTURES)), default=None,
              help="With --structure liquid: the crystal melted to make the liquid (default "
                   "bcc; --volume and --cells as for crystals).")
@click.option("--uf-p", type=float, default=50.0, show_default=True,
              help="With --structure liquid: Uhlenbeck–Ford ε/k_BT.")
@click.option("--uf-sigma", type=float, default=2.0, show_default=True,
              help="With --structure liquid: Uhlenbeck–Ford σ, Å.")
@click.option("--timestep", type=float, default=None,
              help="With --structure liquid: MD timestep in ps (≤ 0.002; default 0.001).")
@click.option("--to", "to", default=None, metavar="POTENTIAL",
              help="Energy-path TI: F(POTENTIAL) − F(--potential) per atom along "
                   "(1−λ)U_0 + λU_1 (any two LAMMPS potentials of the same elements, e.g. "
                   "ML-IAP nn models); --nodes Gauss–Legendre nodes (0: ends only).")
@click.option("--ends/--no-ends", default=True, show_default=True,
              help="With --to: also sample λ = 0 and 1 (Euler–Maclaurin end-point estimate).")
@click.option("--absolute", is_flag=True,
              help="With --to: also the absolute TI of --potential (--method; --nodes when "
                   "≥ 2, else 8), giving F(--to).")
@click.option("--progress/--no-progress", default=None,
              help="Progress on stderr (default: a bar on a terminal, else a line every 10 % "
                   "or 30 s).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Write F(T) with error bands to this PNG.")
@handle_errors
def command(structure, structure_file, element, volume, lattice_constant, cells, mass,
            potential, temperatures, method, repeats, steps, nodes, kappa, seed, checkpoint,
            modes, curve, pressure, npt_steps, sweep_to, sweep_steps, sweep_points, lattice,
            uf_p, uf_sigma, timestep, to, ends, absolute, progress, as_json, plot) -> None:
    """Free energy per atom of a crystal at fixed N, cell and volume by thermodynamic
    integration in LAMMPS (classical NVT; F^(3N-3), F^(3N) and F_phys); with --pressure, the
    Gibbs free energy at the NPT mean volume, and with --sweep-to, G(T) by reversible scaling.
    With --structure liquid: the liquid's F^(3N-3) and F_phys at fixed N and volume (melted
    from --lattice), by switching to an Uhlenbeck–Ford reference anchored on the ideal gas.
    With --to POTENTIAL: F(POTENTIAL) − F(--potential) per atom by the energy path (meV/atom),
    and F(POTENTIAL) with --absolute."""
    from ..ti import FrenkelLaddSettings, LambdaSettings, free_energy_curve
    from ..ti import thermodynamic_integration as ti

    pot = resolve_potential(potential, element)
    if (ends is False or absolute) and to is None:
        raise PhasetuneError("--no-ends and --absolute are options of --to",
                             "add --to POTENTIAL, or drop them")
    if to is not None:
        from .ti_energy import check_energy_path_options

        check_energy_path_options(structure, pressure, curve, sweep_to)
    if structure == "liquid":
        from .ti_liquid import check_liquid_options, liquid_cell, run_liquid

        check_liquid_options(method, pressure, curve, sweep_to, kappa)
        atoms = liquid_cell(pot, lattice, element, volume, lattice_constant, cells, mass)
        run_liquid(atoms, pot, temperatures, repeats, steps, nodes, seed, checkpoint,
                   resolve_mode(progress), uf_p, uf_sigma, timestep, as_json, plot)
        return
    if lattice is not None or timestep is not None:
        raise PhasetuneError("--lattice and --timestep are options of --structure liquid",
                             "drop them, or use --structure liquid")
    atoms = build_structure(pot, structure, structure_file, element, volume, lattice_constant,
                            cells, mass)
    conventions = Conventions(modes=modes)
    show = resolve_mode(progress)  # a bar on a terminal, one-line reports in a log
    kwargs = dict(method=method, repeats=repeats, conventions=conventions, steps=steps,
                  seed=seed, checkpoint=checkpoint, progress=show,
                  lambda_settings=LambdaSettings(n_nodes=nodes) if to is None or nodes >= 2
                  else LambdaSettings(),  # --to --nodes 0: the energy path's ends only
                  fl_settings=FrenkelLaddSettings(kappa=kappa))
    _check_pressure_options(pressure, sweep_to, curve, temperatures)
    if to is not None:
        from .ti_energy import run_energy_path

        if plot:
            raise PhasetuneError("--plot is not available with --to", "drop --plot")
        run_energy_path(atoms, pot, resolve_potential(to, element), temperatures, repeats,
                        steps, nodes, ends, seed, checkpoint, show, absolute, kwargs, modes,
                        as_json)
        return
    if pressure is not None:
        _run_pressure(atoms, pot, temperatures, pressure * GPA_TO_EV_PER_A3, sweep_to,
                      sweep_steps, sweep_points, npt_steps, kwargs, modes, as_json, plot)
        return
    result = (free_energy_curve if curve else ti)(atoms, pot, temperatures, **kwargs)
    if plot:
        from ..plots import plot_free_energies

        label = f"{result.structure} ({method}{', Gibbs–Helmholtz' if curve else ''})"
        plot_free_energies({label: (result.temperatures, result.F, result.sigma)}, plot,
                           title=f"TI free energy, {pot.name}, modes {modes}")
    if as_json:
        emit_json(result.to_dict())
    elif curve:
        _print_curve(result, modes)
    else:
        _print_result(result, modes)


def _run_pressure(atoms, pot, temperatures, pressure, sweep_to, sweep_steps, sweep_points,
                  npt_steps, kwargs, modes, as_json, plot) -> None:
    """``--pressure`` (and ``--sweep-to``): G at the NPT mean volume, or G(T) by reversible
    scaling."""
    import numpy as np

    from ..ti import SweepSettings, gibbs_free_energy, reversible_scaling

    if sweep_to is not None:
        if sweep_points < 2:
            raise PhasetuneError("--sweep-points must be at least 2")
        grid = np.linspace(temperatures[0], sweep_to, sweep_points) \
            if sweep_to > temperatures[0] else None
        result = reversible_scaling(atoms, pot, temperatures[0], sweep_to, pressure, grid,
                                    sweep=SweepSettings(sweep_steps=sweep_steps),
                                    npt_steps=npt_steps, **kwargs)
        label = f"{result.anchor.structure} (reversible scaling)"
    else:
        result = gibbs_free_energy(atoms, pot, temperatures, pressure, npt_steps=npt_steps,
                                   **kwargs)
        label = f"{result.structure} (NPT + TI)"
    if plot:
        from ..plots import plot_free_energies

        temps = result.temperatures
        plot_free_energies({label: (temps, result.G, result.sigma)}, plot,
                           title=f"Gibbs free energy at {pressure / GPA_TO_EV_PER_A3:g} GPa, "
                                 f"{pot.name}, modes {modes}")
    if as_json:
        emit_json(result.to_dict())
    elif sweep_to is not None:
        _print_sweep(result, modes)
    else:
        _print_gibbs(result, modes)
