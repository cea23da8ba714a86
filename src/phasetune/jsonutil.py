"""The one numpy → JSON conversion of phasetune: arrays and numpy scalars to lists and numbers.

Two policies for non-finite floats, chosen by the reader of the JSON:

* ``nonfinite="null"`` (default): NaN and ±inf become ``null`` — strict JSON for scripts and
  reports (``--json`` output, report files);
* ``nonfinite="keep"``: NaN and ±inf stay floats, which Python's ``json`` writes as ``NaN`` and
  ``Infinity`` and reads back exactly — for files only phasetune reads (archive attributes, fit
  files, TI checkpoints), where a NaN diagnostic must survive the round trip.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import numpy as np

NonFinite = Literal["null", "keep"]


def to_jsonable(obj: Any, nonfinite: NonFinite = "null") -> Any:
    """A structure of dicts/lists/numbers/strings that ``json.dumps`` accepts."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, nonfinite) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, nonfinite) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist(), nonfinite)
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item(), nonfinite)
    if isinstance(obj, float) and nonfinite == "null" and not np.isfinite(obj):
        return None
    if hasattr(obj, "__fspath__"):
        return str(obj)
    return obj


def _keep(obj: Any) -> Any:
    """``json.dumps`` fallback for what it cannot encode itself (NaN kept)."""
    converted = to_jsonable(obj, "keep")
    if converted is obj:
        raise TypeError(f"{type(obj).__name__} is not JSON serialisable")
    return converted


def dumps_exact(obj: Any, **kwargs: Any) -> str:
    """JSON that Python reads back exactly, NaN included (``nonfinite="keep"``); numpy values
    converted; other keyword arguments go to ``json.dumps`` (e.g. ``sort_keys``, ``indent``)."""
    return json.dumps(obj, default=_keep, **kwargs)
