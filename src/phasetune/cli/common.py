"""Shared CLI plumbing: error reporting, JSON output, parsing helpers."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from ..errors import PhasetuneError
from ..jsonutil import to_jsonable


def emit_json(payload: Any) -> None:
    """Print ``payload`` as JSON (numpy arrays and scalars converted, NaN → null)."""
    click.echo(json.dumps(to_jsonable(payload), indent=2, ensure_ascii=False))


def handle_errors(func: Callable) -> Callable:
    """Turn PhasetuneError into a one-line message and exit status 2 (traceback with --debug)."""

    @wraps(func)
    def wrapper(*args, **kwargs):
        ctx = click.get_current_context()
        debug = bool(ctx.find_root().params.get("debug"))
        try:
            return func(*args, **kwargs)
        except PhasetuneError as exc:
            if debug:
                raise
            click.echo(f"phasetune: error: {exc}", err=True)
            sys.exit(2)

    return wrapper
