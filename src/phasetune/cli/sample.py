"""``phasetune sample``: run, resume or extend a sampling campaign from its YAML file."""

from __future__ import annotations

import sys

import click

from .common import emit_json, handle_errors

EXIT_INCOMPLETE = 3
EXIT_INTERRUPTED = 130


@click.command("sample")
@click.argument("campaign", type=click.Path(dir_okay=False))
@click.option("--executor", type=click.Choice(["local", "mpi", "dask"]), default=None,
              help="Where chunks run (default: the campaign's executor.kind, else local).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Number of workers (default: executor.workers, else all cores).")
@click.option("--scheduler", default=None, help="Dask scheduler address (--executor dask).")
@click.option("--quiet", is_flag=True, help="No progress bars or messages (the log is kept).")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@handle_errors
def command(campaign, executor, workers, scheduler, quiet, as_json) -> None:
    """Sample the descriptor density on isosurfaces (CAMPAIGN.yaml; docs/campaign.md).

    Re-running the same command resumes an interrupted campaign; raising samples, adding
    temperatures or volumes extends it without resampling what exists.  Exit status: 0 complete,
    3 incomplete (failed chunks), 2 error, 130 interrupted.
    """
    from ..campaign.runner import run_campaign
    from ..campaign.spec import load_campaign

    spec = load_campaign(campaign)
    try:
        result = run_campaign(spec, executor=executor, workers=workers, scheduler=scheduler,
                              quiet=quiet or as_json, progress=not (quiet or as_json))
    except KeyboardInterrupt:
        click.echo("phasetune: interrupted; finished chunks are committed. Re-run the same "
                   "command to resume.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if as_json:
        emit_json(result.as_dict())
    elif not quiet:
        state = "complete" if result.complete else "INCOMPLETE"
        click.echo(f"campaign {state}: {result.samples_run} samples in {result.chunks_run} "
                   f"chunk(s) ({result.chunks_skipped} already done), {result.wall_time:.1f} s")
        rates = dict(result.rates) if result.samples_run else {}
        if "overall" in rates:
            click.echo(f"  {rates.pop('overall'):.1f} samples/s overall")
        for phase, rate in rates.items():
            click.echo(f"  {phase}: {rate:.1f} samples per worker CPU-second")
        click.echo(f"archive: {result.archive}  log: {result.log_file}")
        for phase, record in result.volume_grids.items():
            click.echo(f"  {phase}: generated volumes "
                       f"{', '.join(f'{v:g}' for v in record['volumes'])} Å³/atom (frozen in "
                       "the archive)")
        for f in result.failures:
            click.echo(f"  FAILED {f.phase} V={f.volume:g} isosurface {f.isosurface} "
                       f"(α={f.alpha:.4f}, T_α={f.T_alpha:.0f} K) chunk {f.chunk} seed "
                       f"{f.seed}: {f.message}", err=True)
    if not result.complete:
        sys.exit(EXIT_INCOMPLETE)


if __name__ == "__main__":  # pragma: no cover
    command()
