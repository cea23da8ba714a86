"""``phasetune info`` and ``phasetune merge``: inspect and combine D-DOS archives."""

from __future__ import annotations

from pathlib import Path

import click

from ..archive.hdf5 import merge_archives, read_archive, summarize, write_archive
from ..campaign.volume_grid import describe_record
from ..errors import ArchiveError, PhasetuneError
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
            click.echo("    alpha     T_alpha/K     count  batches  under   over  max corr")
            for sh in v["shells"]:
                click.echo(
                    f"  {sh['alpha']:8.4f} {sh['T_alpha']:12.1f} {sh['count']:9d} "
                    f"{sh['n_batches']:8d} {sh['underflow']:6d} {sh['overflow']:6d} "
                    f"{_fmt(sh['max_frame_correlation'], '9.3f')}"
                )
    for name, record in s.get("sampler", {}).get("volume_grids", {}).items():
        click.echo(describe_record(name, record, "generated, frozen in this archive"))
    salvaged = s["provenance"].get("salvaged")
    if salvaged:
        click.echo(f"SALVAGED: dropped {', '.join(salvaged['dropped'])}")


@click.command("info")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--no-verify", is_flag=True, help="Skip checksum verification.")
@click.option("--salvage", is_flag=True, help="Report the intact part of a corrupted archive.")
@handle_errors
def info(archive: Path, as_json: bool, no_verify: bool, salvage: bool) -> None:
    """Summarise ARCHIVE: versions, provenance, phases, volumes and shells."""
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
    if as_json:
        emit_json(summary)
        return
    _print_summary(summary)
    click.echo(f"checksums: {summary['checksums']}")
    if pending:
        click.echo(f"pending: {len(pending)} finished chunk(s) in {spool} are not in the archive "
                   f"yet; {summary['pending']['next']}")


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
