"""``phasetune sample``: run, resume or extend a sampling campaign from its YAML file."""

from __future__ import annotations

import sys

import click

from ..errors import PhasetuneError
from ..potentials.linear import LinearPotential
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
@click.option("--t-max", type=click.FloatRange(min=0.0, min_open=True), default=None,
              help="Extend the campaign until θ0 is solved up to this temperature, K: append "
                   "shells above the grid, sample, refit and check, for a few rounds "
                   "(recorded in the archive; later runs keep the shells).")
@click.option("--phase", "phases", multiple=True,
              help="With --t-max: only these phases (repeatable; default all).")
@click.option("--potential", default=None,
              help="With --t-max: the linear potential to get solved (default: the campaign's "
                   "reference, θ0).")
@click.option("--rounds", type=click.IntRange(min=1), default=None,
              help="With --t-max: extension rounds at most (default 4).")
@handle_errors
def command(campaign, executor, workers, scheduler, quiet, as_json, t_max, phases, potential,
            rounds) -> None:
    """Sample the descriptor density on isosurfaces (CAMPAIGN.yaml; docs/campaign.md).

    Re-running the same command resumes an interrupted campaign; raising samples, adding
    temperatures or volumes extends it without resampling what exists.  With --t-max T, shells
    are appended (and sampled, fitted and checked, round after round) until the campaign's
    reference potential is solved at T, or phasetune says why more shells cannot get it there.
    Exit status: 0 complete, 3 incomplete (failed chunks), 2 error, 130 interrupted.
    """
    from ..campaign.runner import run_campaign
    from ..campaign.spec import load_campaign

    if t_max is None and (phases or potential or rounds):
        raise click.UsageError("--phase, --potential and --rounds go with --t-max")
    spec = load_campaign(campaign)
    options = {"executor": executor, "workers": workers, "scheduler": scheduler,
               "quiet": quiet or as_json, "progress": not (quiet or as_json)}
    try:
        if t_max is not None:
            _extend(spec, t_max, phases, potential, rounds, options, quiet, as_json)
            return
        result = run_campaign(spec, **options)
    except KeyboardInterrupt:
        click.echo("phasetune: interrupted; finished chunks are committed. Re-run the same "
                   "command to resume.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    _report(result, quiet, as_json)
    if not result.complete:
        sys.exit(EXIT_INCOMPLETE)


def _extend(spec, t_max, phases, potential, rounds, options, quiet, as_json) -> None:
    """``sample --t-max``: rounds of appended shells until θ0 is solved at T_max."""
    from ..estimator.extend import MAX_ROUNDS, extend_campaign
    from .options import resolve_potential

    pot = None
    if potential is not None:
        pot = resolve_potential(potential)
        if not isinstance(pot, LinearPotential):
            raise PhasetuneError(f"--potential {potential}: {pot.name} is not a linear (SNAP) "
                                 "potential", "give the linear potential to get solved")
    say = None if (quiet or as_json) else (lambda line: click.echo(line))
    out = extend_campaign(spec, t_max, phases=list(phases) or None, potential=pot,
                          max_rounds=rounds or MAX_ROUNDS, report=say, **options)
    if as_json:
        emit_json(out.as_dict())
    elif not quiet:
        _report(out.campaign, quiet, as_json)
        if out.solved:
            click.echo(f"θ0 ({out.potential}) is solved at {t_max:g} K in every phase checked "
                       f"({len(out.rounds) - 1} extension round(s) in this run)")
    if not out.complete:
        sys.exit(EXIT_INCOMPLETE)


def _report(result, quiet: bool, as_json: bool) -> None:
    """The outcome of one campaign run, as JSON or text."""
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
        for phase, t in result.extended_to.items():
            click.echo(f"  {phase}: shells extended to α_H(cover × {t:g} K) by sample --t-max "
                       "(recorded in the archive)")
        for f in result.failures:
            click.echo(f"  FAILED {f.phase} V={f.volume:g} isosurface {f.isosurface} "
                       f"(α={f.alpha:.4f}, T_α={f.T_alpha:.0f} K) chunk {f.chunk} seed "
                       f"{f.seed}: {f.message}", err=True)


if __name__ == "__main__":  # pragma: no cover
    command()
