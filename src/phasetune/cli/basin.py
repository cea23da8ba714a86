"""``phasetune basin``: at which temperature does each phase's crystal leave its basin in MD?"""

from __future__ import annotations

import click

from ..errors import PhasetuneError
from .common import emit_json
from .options import potential_option, resolve_potential, temperature_option


@click.command("basin")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
@potential_option
@temperature_option
@click.option("--phase", "phases", multiple=True, help="Only these phases (repeatable).")
@click.option("--steps", type=click.IntRange(min=100), default=4000, show_default=True,
              help="NVT steps per temperature (a quarter as many more to equilibrate).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the scans as JSON.")
def command(archive, potential, temperatures, phases, steps, seed, as_json) -> None:
    """NVT MD of the potential on each phase's archived cell at rising temperatures, with the
    basin guard (site displacements, quench and common-neighbour analysis); stops at the first
    temperature where the crystal melts or transforms and records it beside the archive
    (<archive>.basin.json), so that predict refuses that temperature and above for this
    potential."""
    from ..archive.hdf5 import read_archive
    from ..structures.crystals import reference_atoms
    from ..ti.basin_scan import basin_scan, write_record

    pot = resolve_potential(potential)
    data = read_archive(archive)
    names = list(phases) or list(data.phases)
    missing = [p for p in names if p not in data.phases]
    if missing:
        raise PhasetuneError(f"phase(s) {', '.join(missing)} not in {archive}",
                             f"phases there: {', '.join(data.phases)}")
    say = (lambda _line: None) if as_json else (lambda line: click.echo(line, err=True))
    scans = {}
    for name in names:
        pv = data.get(name, 0)
        atoms = reference_atoms(pv.reference, pot.elements[0])
        scan = basin_scan(atoms, pv.reference, pot, temperatures, phase=name, steps=steps,
                          seed=seed, progress=say)
        path = write_record(archive, scan)
        scans[name] = scan.to_dict()
        if not as_json:
            if scan.left_at is None:
                click.echo(f"{name}: in its basin at every temperature up to "
                           f"{max(scan.temperatures):g} K ({steps} steps each)")
            else:
                click.echo(f"{name}: left its basin at {scan.left_at:g} K: {scan.message}")
    if as_json:
        emit_json({"archive": archive, "potential": pot.name, "scans": scans,
                   "record": str(path)})
    else:
        click.echo(f"recorded in {path}; predict refuses these temperatures for {pot.name}")
