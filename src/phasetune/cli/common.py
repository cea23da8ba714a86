"""Shared CLI plumbing: the error boundary, JSON output, parsing helpers.

Every failure of a verb ends in :func:`report_error`: one line on stderr
(``phasetune: error: MESSAGE (fix: HINT)``), or with ``--json`` one JSON object
``{"error": MESSAGE, "hint": HINT or null, "type": CLASS}`` on stdout; the exit status is 2.
``phasetune --debug …`` re-raises instead, so the traceback is shown.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from ..errors import PhasetuneError
from ..jsonutil import to_jsonable

EXIT_ERROR = 2
"""Exit status of every failed verb (usage errors included)."""


def emit_json(payload: Any) -> None:
    """Print ``payload`` as JSON (numpy arrays and scalars converted, NaN → null)."""
    click.echo(json.dumps(to_jsonable(payload), indent=2, ensure_ascii=False))


def one_line(text: str | None) -> str | None:
    """``text`` with its line breaks (and the indentation after them) folded into '; '."""
    if text is None:
        return None
    return re.sub(r"\s*\n\s*", "; ", str(text).strip()) or None


def error_fields(exc: BaseException) -> dict[str, str | None]:
    """``{"error", "hint", "type"}`` of an exception, each on one line."""
    if isinstance(exc, PhasetuneError):
        message, hint = exc.message, exc.hint
    elif isinstance(exc, click.ClickException):
        message = exc.format_message()
        ctx = getattr(exc, "ctx", None)
        hint = f"see '{ctx.command_path} --help'" if ctx is not None else \
            "see 'phasetune --help'"
    elif isinstance(exc, OSError):
        message = f"{type(exc).__name__}: {exc}"
        hint = "check the path, its permissions and the free disk space"
    else:
        message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        hint = ("unexpected error (a bug in phasetune?): rerun as 'phasetune --debug …' for the "
                "traceback and report it")
    return {"error": one_line(message), "hint": one_line(hint), "type": type(exc).__name__}


def report_error(exc: BaseException, as_json: bool) -> None:
    """Print ``exc`` as one line on stderr, or as a JSON error object on stdout."""
    fields = error_fields(exc)
    if as_json:
        click.echo(json.dumps(fields, ensure_ascii=False))
        return
    hint = f" (fix: {fields['hint']})" if fields["hint"] else ""
    click.echo(f"phasetune: error: {fields['error']}{hint}", err=True)


EXIT_BROKEN_PIPE = 141
"""Exit status when the reader of stdout went away (128 + SIGPIPE, as shells report it)."""


def closed_pipe() -> None:
    """The reader of our output left (``phasetune info A | head``): stop quietly, as Unix tools
    do, without an error message and without Python's own complaint when it flushes stdout."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
    sys.exit(EXIT_BROKEN_PIPE)


def _debug(ctx: click.Context | None) -> bool:
    return bool(ctx and ctx.find_root().params.get("debug"))


def handle_errors(func: Callable) -> Callable:
    """Report any exception of a verb with :func:`report_error` and exit with status 2
    (re-raised with ``--debug``).  JSON when the verb was called with ``--json``."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context(silent=True)
        try:
            return func(*args, **kwargs)
        except (click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            closed_pipe()
        except Exception as exc:
            if _debug(ctx):
                raise
            report_error(exc, bool(kwargs.get("as_json")))
            sys.exit(EXIT_ERROR)

    return wrapper


class PhasetuneGroup(click.Group):
    """The command group with the error boundary for what happens outside a verb's body: usage
    errors of the verbs (missing options, bad values, unknown verbs) follow the same one-line /
    JSON format and exit status 2 as the verbs' own errors."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["phasetune.json"] = "--json" in args
        try:
            return super().parse_args(ctx, args)
        except click.ClickException as exc:  # e.g. an unknown option before the verb
            if isinstance(exc, getattr(click.exceptions, "NoArgsIsHelpError", ())):
                raise  # bare `phasetune`: click prints the help
            report_error(exc, bool(ctx.meta["phasetune.json"]))
            ctx.exit(EXIT_ERROR)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            closed_pipe()
        except Exception as exc:
            if _debug(ctx) and not isinstance(exc, click.ClickException):
                raise
            report_error(exc, bool(ctx.meta.get("phasetune.json")))
            ctx.exit(EXIT_ERROR)
