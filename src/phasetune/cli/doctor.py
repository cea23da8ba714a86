"""``phasetune doctor``: check Python, LAMMPS, MPI and shipped potentials."""

from __future__ import annotations

import sys

import click

from ..engine.doctor import checks_as_dict, run_checks
from .common import emit_json


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def command(as_json: bool) -> None:
    """Check that phasetune's dependencies are installed and work; non-zero exit on failure."""
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
