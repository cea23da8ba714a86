"""Reusable click options shared by several verbs (structure, potential, temperatures,
conventions, score degree and route): each defined once, here."""

from __future__ import annotations

from collections.abc import Callable

import click

from ..potentials.linear import LinearPotential, PairPotential
from ..potentials.registry import load_potential
from ..scoring.score_matching import DEFAULT_DEGREE
from ..structures.crystals import STRUCTURES


class GreedyOption(click.Option):
    """A multiple option that also takes the words following it: ``-T 300 1000 2000``."""

    def add_to_parser(self, parser, ctx):  # noqa: ANN001 - click internals
        result = super().add_to_parser(parser, ctx)
        for name in self.opts:
            opt = parser._long_opt.get(name) or parser._short_opt.get(name)
            if opt is None:
                continue
            previous = opt.process

            def process(value, state, previous=previous, prefixes=opt.prefixes):
                values = [value]
                while state.rargs and not any(state.rargs[0].startswith(p) for p in prefixes):
                    values.append(state.rargs.pop(0))
                for v in values:
                    previous(v, state)

            opt.process = process
        return result


def structure_options(func: Callable) -> Callable:
    """--structure/--structure-file, --element, --volume/--lattice-constant, --cells, --mass."""
    options = [
        click.option("--structure", "structure", default=None,
                     help=f"Prototype: {', '.join(STRUCTURES)}."),
        click.option("--structure-file", type=click.Path(dir_okay=False), default=None,
                     help="Any structure file ASE reads (instead of --structure)."),
        click.option("--element", default=None,
                     help="Chemical symbol (default: the potential's element)."),
        click.option("--volume", type=float, default=None, help="Volume per atom, Å³."),
        click.option("--lattice-constant", type=float, default=None,
                     help="Conventional lattice constant, Å."),
        click.option("--cells", cls=GreedyOption, type=int, multiple=True,
                     help="Supercell repetitions: one integer (n n n) or three."),
        click.option("--mass", type=float, default=None, help="Atomic mass, amu."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def potential_option(func: Callable) -> Callable:
    return click.option("--potential", required=True,
                        help="lammps:NAME (shipped with LAMMPS) or a "
                        ".snap/.mliap/.snapcoeff/EAM file."
                        )(func)


def temperature_option(func: Callable | None = None, *, required: bool = True) -> Callable:
    """``-T/--temperatures 300 1000 2000`` (K)."""
    decorator = click.option("-T", "--temperatures", cls=GreedyOption, type=float, multiple=True,
                             required=required,
                             help="Temperatures in K: -T 300 1000 2000 (or repeat -T).")
    return decorator(func) if func is not None else decorator


def resolve_potential(name: str, element: str | None = None) -> PairPotential | LinearPotential:
    return load_potential(name, element=element)


def modes_option(func: Callable) -> Callable:
    """--modes 3N|3N-3: the mode-count convention (method.md §3)."""
    return click.option("--modes", type=click.Choice(["3N", "3N-3"]), default="3N",
                        show_default=True,
                        help="Modes per atom: 3 (3N) or 3 − 3/N (3N-3, COM fixed).")(func)


def degree_option(func: Callable) -> Callable:
    """--degree K|auto: the score degree (2–8), parsed to an int or ``"auto"``."""
    def parse(ctx, param, value):  # noqa: ANN001, ARG001 - click callback
        if value == "auto":
            return value
        try:
            degree = int(value)
        except ValueError:
            degree = 0
        if not 2 <= degree <= 8:
            raise click.BadParameter(f"{value!r}: give an integer from 2 to 8, or auto")
        return degree

    return click.option("--degree", default=str(DEFAULT_DEGREE), show_default=True,
                        callback=parse, help="Score degree 2–8, or auto.")(func)


def route_option(func: Callable) -> Callable:
    """--route score|cumulant: the prediction route."""
    return click.option("--route", type=click.Choice(["score", "cumulant"]), default="score",
                        show_default=True,
                        help="Score matching, or the second-order cumulant route.")(func)


def pressures_option(func: Callable | None = None, *, required: bool = False,
                     help_text: str = "Pressures in GPa: -P 0 5 10 (G(P, T) from the volumes "
                     "sampled).") -> Callable:
    """``-P/--pressures 0 5 10`` (GPa)."""
    decorator = click.option("-P", "--pressures", cls=GreedyOption, type=float, multiple=True,
                             required=required, help=help_text)
    return decorator(func) if func is not None else decorator


def volume_degree_option(func: Callable) -> Callable:
    """--volume-degree d: degree of the F(V) polynomial in (V/V_c)^(−2/3)."""
    return click.option(
        "--volume-degree", type=click.IntRange(1, 6), default=None,
        help="Degree of F(V) in (V/V_c)^(-2/3) (default min(3, max(2, volumes − 2))).")(func)
