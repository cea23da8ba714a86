"""YAML configuration files validated by a pydantic model: one reader for ``tune`` and
``train-nn`` (every problem a one-line :class:`~phasetune.errors.ConfigError` naming the file),
and the resolution of relative paths against the file's folder."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from .errors import ConfigError

Model = TypeVar("Model", bound=BaseModel)


def validation_message(err: ValidationError) -> str:
    """'key.sub: message; …' of every problem pydantic found."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
                     for e in err.errors())


def load_yaml_model(path: str | Path, model: type[Model], what: str, example: str) -> Model:
    """Read ``path`` and validate it as ``model``; ``what`` names the file kind in errors and
    ``example`` is where the fix points to."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} file not found: {path}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return model.model_validate(raw or {})
    except ValidationError as exc:
        raise ConfigError(f"{path}: {validation_message(exc)}", f"see {example}") from exc


def resolve_path(path: Path, base: Path) -> Path:
    """``path`` as is if absolute, else relative to ``base`` (normalised)."""
    return path if path.is_absolute() else Path(os.path.normpath(base / path))
