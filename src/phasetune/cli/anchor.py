"""``phasetune anchor``: attach TI free energies to a kinetic phase of an archive (a liquid needs
one per volume; a crystal may take one)."""

from __future__ import annotations

import click

from ..errors import PhasetuneError
from .common import emit_json


@click.command("anchor")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
@click.argument("ti_files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--phase", default=None,
              help="The kinetic phase (default: the archive's only liquid).")
@click.option("--temperature", "-T", type=float, default=None,
              help="Which TI row to use when a file has several temperatures (K).")
@click.option("--json", "as_json", is_flag=True, help="Print the anchors as JSON.")
def command(archive, ti_files, phase, temperature, as_json) -> None:
    """Fix the entropy constant of a kinetic phase's shells (method.md §4.6) with TI of the
    archive's reference potential (phasetune ti [--structure liquid] --json), one file per
    volume; recorded in <archive>.anchors.json, used by predict, phases, diagram and tune.  A
    liquid needs it; a crystal uses it instead of its harmonic limit."""
    from ..archive.hdf5 import read_archive
    from ..estimator.anchors import anchor_from_ti, write_anchor

    data = read_archive(archive)
    liquids = [name for name in data.phases if data.get(name, 0).liquid]
    kinetic = [name for name in data.phases if data.get(name, 0).flavour == "kinetic"]
    if phase is None:
        if len(liquids) != 1:
            raise PhasetuneError(f"{archive} has {len(liquids)} liquid phases "
                                 f"({', '.join(liquids) or 'none'})", "name one with --phase")
        phase = liquids[0]
    if phase not in kinetic:
        raise PhasetuneError(f"phase {phase!r} of {archive} has no kinetic shells",
                             "TI anchors fix the measure of kinetic shells only (kinetic "
                             f"phases there: {', '.join(kinetic) or 'none'})")
    reference_sha = data.metadata.get("reference_potential", {}).get("sha256")
    volumes = data.volumes(phase)
    done = []
    for path in ti_files:
        anchor, volume, n_atoms, sha, liquid_ti = anchor_from_ti(path, temperature)
        if liquid_ti != (phase in liquids):
            raise PhasetuneError(f"{path}: {'liquid' if liquid_ti else 'crystal'} TI cannot "
                                 f"anchor the {'liquid' if phase in liquids else 'crystal'} "
                                 f"phase {phase!r}", "anchor each phase with its own TI")
        pv = min(volumes, key=lambda p: abs(p.reference.volume - volume))
        if abs(pv.reference.volume - volume) > 1e-6 * volume or pv.reference.n_atoms != n_atoms:
            sampled = ", ".join(f"{p.reference.volume:.6g}" for p in volumes)
            raise PhasetuneError(
                f"{path}: liquid TI at {volume:.6g} Å³/atom with {n_atoms} atoms matches no "
                f"volume of {phase} ({sampled} Å³/atom, {pv.reference.n_atoms} atoms)",
                "run the TI at a sampled volume and cell")
        if reference_sha and sha != reference_sha:
            raise PhasetuneError(f"{path}: the TI potential (sha256 {sha[:12]}…) is not the "
                                 f"archive's reference (sha256 {reference_sha[:12]}…)",
                                 "run liquid TI with the archive's reference potential")
        record = write_anchor(archive, phase, pv.reference.volume, anchor, sha)
        done.append({"volume": pv.reference.volume, **anchor.to_dict()})
        if not as_json:
            click.echo(f"{phase} at {pv.reference.volume:g} Å³/atom: F = {anchor.free_energy:.6f}"
                       f" ± {1e3 * anchor.sigma:.3f} meV/atom at {anchor.temperature:g} K "
                       f"({anchor.source})")
    if as_json:
        emit_json({"archive": archive, "phase": phase, "anchors": done, "record": str(record)})
    else:
        click.echo(f"recorded in {record}")
