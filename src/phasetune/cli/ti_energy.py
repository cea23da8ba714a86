"""``phasetune ti … --to POTENTIAL``: F(U_1) − F(U_0) between two potentials by the energy path
(:func:`phasetune.ti.energy_path.energy_path`), and F(U_1) with ``--absolute``."""

from __future__ import annotations

import click

from ..errors import PhasetuneError
from .common import emit_json


def check_energy_path_options(structure, pressure, curve, sweep_to) -> None:
    """Refuse the options that do not apply to the energy path (fixed-volume crystals only)."""
    if structure == "liquid" or pressure is not None or curve or sweep_to is not None:
        raise PhasetuneError("--to runs a fixed-volume crystal energy path: it cannot be combined "
                             "with --structure liquid, --pressure, --curve or --sweep-to",
                             "drop those options, or drop --to")


def run_energy_path(atoms, start, end, temperatures, repeats, steps, nodes, ends, seed,
                    checkpoint, progress, absolute, ti_kwargs, modes, as_json) -> None:
    """Run and print the energy path from ``start`` to ``end`` (and the absolute TI of ``start``
    first with ``absolute``)."""
    from ..ti import MDSettings
    from ..ti.api import round_up, thermodynamic_integration
    from ..ti.energy_path import EnergyPathSettings, energy_path

    md = MDSettings()
    kwargs = {}
    if steps is not None:
        if steps <= 0:
            raise PhasetuneError(f"--steps must be positive, got {steps}")
        s = round_up(steps, md.stride)
        kwargs = {"production": s, "equilibration": round_up(s // 4, md.stride)}
    settings = EnergyPathSettings(n_nodes=nodes, ends=ends, **kwargs)
    anchor = None
    if absolute:
        anchor_checkpoint = None if checkpoint is None else f"{checkpoint}.start.json"
        anchor = thermodynamic_integration(atoms, start, temperatures,
                                           **{**ti_kwargs, "checkpoint": anchor_checkpoint})
    result = energy_path(atoms, start, end, temperatures, repeats=repeats, seed=seed,
                         checkpoint=checkpoint, progress=progress, md_settings=md,
                         settings=settings, anchor=anchor)
    if as_json:
        emit_json(result.to_dict())
        return
    _print(result, modes)


def _print(result, modes: str) -> None:
    d = result.to_dict()
    click.echo(f"{d['structure']}: F(U_1) − F(U_0), U_0 = {d['start']['name']}, "
               f"U_1 = {d['end']['name']}, energy path (classical NVT, COM fixed)")
    click.echo(f"{'T (K)':>9} {'δF (meV/atom)':>14} {'σ':>8} {'G–L':>10} {'σ':>8} "
               f"{'ends':>10} {'σ':>8} {'E–M corr':>9} {'repeats':>7} {'CPU s':>8}")
    for p in d["temperatures"]:
        gl, ends = p["gauss_legendre"] or {}, p["ends"] or {}

        def mev(x: dict, key: str) -> str:
            return f"{1e3 * x[key]:.4f}" if key in x else "-"

        click.echo(f"{p['T']:9.1f} {1e3 * p['delta_F']:14.4f} {1e3 * p['sigma']:8.4f} "
                   f"{mev(gl, 'delta_F'):>10} {mev(gl, 'sigma'):>8} {mev(ends, 'delta_F'):>10} "
                   f"{mev(ends, 'sigma'):>8} {mev(ends, 'correction'):>9} {p['n_repeats']:7d} "
                   f"{p['cpu_seconds']:8.1f}")
    if d["F_end"]:
        click.echo(f"absolute (modes {modes}): F(U_1) = F(U_0) + δF")
        click.echo(f"{'T (K)':>9} {'F(U_0)':>14} {'σ (meV)':>9} {'F(U_1)':>14} {'σ (meV)':>9}")
        for row in d["F_end"]:
            click.echo(f"{row['T']:9.1f} {row['F_start']:14.6f} {1e3 * row['sigma_start']:9.3f} "
                       f"{row['F']:14.6f} {1e3 * row['sigma']:9.3f}")
    for w in d["warnings"] + (d["anchor"]["warnings"] if d["anchor"] else []):
        click.echo(f"warning: {w}", err=True)
