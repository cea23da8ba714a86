"""``tune.yaml``: what to tune, towards which targets, with which regulariser (validated).

Example::

    archives: [fe.h5]                 # one or more archives holding the phases
    potential: X_Fe.snapcoeff         # θ0 and β0; written back tuned
    targets:
      - transition: {low: bcc, high: fcc, T: 1063}
      - delta_F: {a: fcc, b: bcc, T: 1000, value_meV: 5}     # or shift_meV: -10
    regulariser:
      kind: gram                      # gram (training design) or ridge
      training: train.extxyz          # optional; default: generated from the potential itself
      n_per_phase: 8
      ridge: 1.0e-6                   # relative ridge added to the metric diagonal
    constraints: [keep_delta_E0]      # optional
    max_iter: 10
    trust_radius: null
    route: score                      # or cumulant (second-order; no support limits)
    output: tuned/                    # directory for the tuned potential, report and plot
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TransitionSpec(_Strict):
    low: str
    high: str
    T: float = Field(gt=0)


class DeltaFSpec(_Strict):
    """ΔF(a − b, T) equal to ``value_meV``, or to its current value plus ``shift_meV``."""

    a: str
    b: str
    T: float = Field(gt=0)
    value_meV: float | None = None
    shift_meV: float | None = None
    tolerance_meV: float = Field(default=0.05, gt=0)

    @model_validator(mode="after")
    def _value_or_shift(self):
        if (self.value_meV is None) == (self.shift_meV is None):
            raise ValueError("give exactly one of value_meV and shift_meV")
        return self


class TargetSpec(_Strict):
    transition: TransitionSpec | None = None
    delta_F: DeltaFSpec | None = None

    @model_validator(mode="after")
    def _one(self):
        if (self.transition is None) == (self.delta_F is None):
            raise ValueError("each target is either 'transition' or 'delta_F'")
        return self


class RegulariserSpec(_Strict):
    kind: Literal["gram", "ridge"] = "gram"
    training: Path | None = None
    n_per_phase: int = Field(default=8, ge=1)
    ridge: float = Field(default=1e-6, ge=0)
    energy_sigma: float = Field(default=1e-3, gt=0)
    force_sigma: float = Field(default=0.05, gt=0)


class TuneSpec(_Strict):
    archives: list[Path] = Field(min_length=1)
    potential: str
    targets: list[TargetSpec] = Field(min_length=1)
    regulariser: RegulariserSpec = RegulariserSpec()
    constraints: list[Literal["keep_delta_E0"]] = []
    max_iter: int = Field(default=10, ge=1)
    trust_radius: float | None = Field(default=None, gt=0)
    modes: Literal["3N", "3N-3"] = "3N"
    degree: int = Field(default=4, ge=2, le=8)
    route: Literal["score", "cumulant"] = "score"
    output: Path = Path("tuned")
    name: str | None = None


def _format(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        lines.append(f"{loc}: {e['msg']}")
    return "; ".join(lines)


def load_tune_spec(path: str | Path) -> TuneSpec:
    """Read and validate a tune YAML; relative paths resolve against its directory."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"tune file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    try:
        spec = TuneSpec.model_validate(raw or {})
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_format(exc)}",
                          "see the example in phasetune.tuning.spec") from exc
    base = path.parent
    spec.archives = [_resolve(a, base) for a in spec.archives]
    if spec.regulariser.training is not None:
        spec.regulariser.training = _resolve(spec.regulariser.training, base)
    spec.output = _resolve(spec.output, base)
    if not spec.potential.startswith("lammps:"):
        spec.potential = str(_resolve(Path(spec.potential), base))
    return spec


def _resolve(path: Path, base: Path) -> Path:
    return path if path.is_absolute() else Path(os.path.normpath(base / path))
