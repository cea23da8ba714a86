"""The ``phasetune`` command line: one verb per pipeline step, each mirroring the Python API.

Each verb lives in its own module and is registered in :data:`COMMAND_MODULES`; this module only
assembles the group.  A module exposes one click ``command``, or a list ``commands`` if it has
several verbs.
"""

from __future__ import annotations

import importlib

import click

from .._version import __version__
from .common import PhasetuneGroup

COMMAND_MODULES = [
    "phasetune.cli.doctor",
    "phasetune.cli.harmonic",
    "phasetune.cli.archive",
    "phasetune.cli.estimate",
    "phasetune.cli.phases",
    "phasetune.cli.diagram",
    "phasetune.cli.tune",
    "phasetune.cli.posterior",
    "phasetune.cli.sample",
    "phasetune.cli.ti",
    "phasetune.cli.basin",
    "phasetune.cli.anchor",
    "phasetune.cli.coexist",
    "phasetune.cli.validate",
    "phasetune.cli.reweight",
    "phasetune.cli.tangent",
    "phasetune.cli.train_nn",
]


@click.group("phasetune", cls=PhasetuneGroup,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="phasetune")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
def cli(debug: bool) -> None:
    """phasetune: free energies of linear ML interatomic potentials from the descriptor DOS."""


for _name in COMMAND_MODULES:
    _module = importlib.import_module(_name)
    for _command in getattr(_module, "commands", None) or [_module.command]:
        cli.add_command(_command)


def main() -> None:
    cli(prog_name="phasetune")
