"""``phasetune info`` and ``phasetune merge``: inspect and combine D-DOS archives."""

from __future__ import annotations

from pathlib import Path

import click

from ..archive.hdf5 import merge_archives, read_archive, summarize, write_archive
from ..campaign.volume_grid import describe_record
from ..errors import ArchiveError, EstimatorError, PhasetuneError
from .common import emit_json, handle_errors


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def _print_summary(s: dict) -> None:
    size = s["file_size_bytes"]
    click.echo(
        f"{s['path']}: {s['format']} v{s['format_version']}, written by phasetune "
        f"{s['phasetune_version']}" + (f", {size / 1e6:.3f} MB" if size is not None else "")
    )
    click.echo(f"created {s['created']}, modified {s['modified']}")
    d, conv = s["descriptor"], s["conventions"]
    potential = s["reference_potential"].get("sha256", "-")
    click.echo(
        f"descriptor {d['kind']} (N_D = {d['n_components']}); modes {conv.get('modes', '3N')}, "
        f"{conv.get('statistics', 'classical')}; reference potential sha256 {potential}"
    )
    for phase in s["phases"]:
        for v in phase["volumes"]:
            click.echo(
                f"{phase['phase']} v{v['index']}: V = {v['volume']:.4f} Å³/atom, N = "
                f"{v['n_atoms']}, flavour {v['flavour']}, ω̄ = {v['omega_bar']:.4g} eV/Å², "
                f"{v['n_shells']} shells, {v['n_samples']} samples, {v['size_bytes'] / 1e6:.3f} MB"
            )
            click.echo(f"    joint correction: {v['joint_correction']}")
            click.echo("    alpha     T_alpha/K     count  batches  under   over  max corr")
            for sh in v["shells"]:
                click.echo(
                    f"  {sh['alpha']:8.4f} {sh['T_alpha']:12.1f} {sh['count']:9d} "
                    f"{sh['n_batches']:8d} {sh['underflow']:6d} {sh['overflow']:6d} "
                    f"{_fmt(sh['max_frame_correlation'], '9.3f')}"
                )
    for name, record in s.get("sampler", {}).get("volume_grids", {}).items():
        click.echo(describe_record(name, record, "generated, frozen in this archive"))
    extended = s.get("sampler", {}).get("extended_to", {})
    if extended:
        t_hi = (s["sampler"].get("isosurfaces", {}).get("temperatures") or [0, 0])[1]
        click.echo("shells extended by `sample --t-max` (kept by later runs): " + ", ".join(
            f"{name} to {t:g} K" for name, t in extended.items() if t > t_hi))
    salvaged = s["provenance"].get("salvaged")
    if salvaged:
        click.echo(f"SALVAGED: dropped {', '.join(salvaged['dropped'])}")


@click.command("info")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--no-verify", is_flag=True, help="Skip checksum verification.")
@click.option("--salvage", is_flag=True, help="Report the intact part of a corrupted archive.")
@click.option("--potential", default=None,
              help="Show where this linear potential is solved (default: the archive's reference "
                   "potential, when it is linear and found here).")
@click.option("--no-range", is_flag=True, help="Do not look for the solved temperature range.")
@handle_errors
def info(archive: Path, as_json: bool, no_verify: bool, salvage: bool, potential: str | None,
         no_range: bool) -> None:
    """Summarise ARCHIVE: versions, provenance, phases, volumes and shells, and per phase and
    volume the temperatures where the reference potential (or --potential) is solved (from the
    stored fits: run `phasetune fit ARCHIVE` first)."""
    spool = archive.with_name(archive.name + ".chunks")
    pending = sorted(spool.glob("*.npz")) if spool.is_dir() else []
    if not archive.exists() and pending:
        raise PhasetuneError(f"{archive} has not been written yet, but {len(pending)} finished "
                             f"chunk(s) wait in {spool}",
                             "run `phasetune sample` on the campaign again: it resumes and "
                             "commits them")
    data = read_archive(archive, verify=not no_verify, salvage=salvage)
    summary = summarize(data)
    salvaged = "salvaged" in data.metadata.get("provenance", {})
    summary["checksums"] = ("not verified" if no_verify else
                            "failed: only the intact part is shown" if salvaged else "verified")
    summary["pending"] = {"spool": str(spool), "spooled_chunks": len(pending),
                          "next": ("`phasetune sample` on the campaign folds these chunks into "
                                   "the archive, then samples what is still missing")
                          if pending else None}
    if not no_range:
        summary["solved_range"] = _solved_ranges(archive, data, potential, salvaged)
    if as_json:
        emit_json(summary)
        return
    _print_summary(summary)
    if not no_range:
        _print_ranges(summary["solved_range"])
    click.echo(f"checksums: {summary['checksums']}")
    if pending:
        click.echo(f"pending: {len(pending)} finished chunk(s) in {spool} are not in the archive "
                   f"yet; {summary['pending']['next']}")


def _solved_ranges(archive: Path, data, potential: str | None, salvaged: bool) -> dict:
    """Per phase and volume, where θ0 (the archive's reference or ``potential``) is solved, from
    the stored fits only (info never fits); ``available`` False with the reason otherwise."""
    from ..estimator.store import check_potential, load_volume_estimators, recorded_potential
    from ..potentials.linear import LinearPotential
    from .options import resolve_potential

    if potential is not None:
        pot, source = resolve_potential(potential), f"--potential {potential}"
        if not isinstance(pot, LinearPotential):
            raise PhasetuneError(f"--potential {potential}: {pot.name} is not a linear (SNAP) "
                                 "potential", "give a linear potential of the archive's "
                                 "descriptors")
    else:
        pot, source = recorded_potential(data.metadata)
    out: dict = {"available": False, "potential": pot.name if pot else None, "source": source}
    if pot is None:
        return {**out, "reason": source,
                "hint": "pass --potential P (a linear potential of the archive's descriptors)"}
    if salvaged:
        return {**out, "reason": "not computed for a salvaged archive", "hint": None}
    try:
        estimators = load_volume_estimators(archive, refit=False, data=data)
        phases = {}
        for name, ests in estimators.items():
            phases[name] = []
            for k, est in enumerate(ests):
                check_potential(pot, est.phase_volume)
                found = est.solved_range(pot.theta)
                phases[name].append({"volume_index": k, "volume": est.reference.volume,
                                     **found.to_dict(per_model=True)})
    except EstimatorError as exc:
        return {**out, "reason": exc.message, "hint": exc.hint}
    return {**out, "available": True, "phases": phases}


def _print_ranges(ranges: dict) -> None:
    if not ranges["available"]:
        hint = f" ({ranges['hint']})" if ranges.get("hint") else ""
        who = f" of {ranges['potential']}" if ranges.get("potential") else ""
        click.echo(f"solved range{who}: not shown: {ranges['reason']}{hint}")
        return
    click.echo(f"solved range of {ranges['potential']} ({ranges['source']}):")
    for name, volumes in ranges["phases"].items():
        for v in volumes:
            where = f"  {name} v{v['volume_index']} ({v['volume']:g} Å³/atom, shells T_α " \
                    f"{v['grid_T'][0]:.0f}–{v['grid_T'][1]:.0f} K)"
            intervals = v["intervals"][0]
            if not intervals:
                click.echo(f"{where}: solved nowhere in {v['window'][0]:.0f}–"
                           f"{v['window'][1]:.0f} K")
                continue
            click.echo(f"{where}: solved " + ", ".join(
                f"{iv['T_lo']:.0f}–{iv['T_hi']:.0f} K" for iv in intervals))
            for iv in intervals:
                for side, edge in (("below", iv["low"]), ("above", iv["high"])):
                    if edge["kind"] != "window":
                        click.echo(f"      {side} {edge['temperature']:.0f} K: {edge['reason']}")


@click.command("merge")
@click.argument("first", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("second", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Merged archive to write.",
)
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the merged summary as JSON.")
@handle_errors
def merge(first: Path, second: Path, output: Path, force: bool, as_json: bool) -> None:
    """Merge two archives of one campaign (same descriptor spec, reference potential and
    conventions) into OUTPUT; the inputs are left unchanged."""
    if output.exists() and not force:
        raise ArchiveError(f"{output} exists", "pass --force to overwrite it")
    merged = merge_archives(read_archive(first), read_archive(second))
    write_archive(output, merged.phase_volumes, merged.metadata)
    summary = summarize(read_archive(output))
    if as_json:
        emit_json(summary)
        return
    n_vol = sum(len(p["volumes"]) for p in summary["phases"])
    n_shells = sum(v["n_shells"] for p in summary["phases"] for v in p["volumes"])
    n_samples = sum(v["n_samples"] for p in summary["phases"] for v in p["volumes"])
    click.echo(
        f"merged {first} + {second} -> {output}: {len(summary['phases'])} phase(s), "
        f"{n_vol} volume(s), {n_shells} shell(s), {n_samples} samples"
    )


commands = [info, merge]
