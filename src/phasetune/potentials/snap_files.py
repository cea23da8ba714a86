"""Read and write LAMMPS SNAP files: ``.snapcoeff``, ``.snapparam`` and ``.snap`` include files.

Parsing is strict: every malformed line raises :class:`PotentialError` naming the file and line.
Writing reproduces the LAMMPS formats (comments kept as a header; coefficients in full precision).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import PotentialError

# Keys pair_style snap understands in a .snapparam file, with their defaults and types.
SNAP_PARAM_DEFAULTS: dict[str, float | int] = {
    "rcutfac": float("nan"),
    "twojmax": -1,
    "rfac0": 0.99363,
    "rmin0": 0.0,
    "switchflag": 1,
    "bzeroflag": 1,
    "quadraticflag": 0,
    "chemflag": 0,
    "bnormflag": 0,
    "wselfallflag": 0,
    "switchinnerflag": 0,
    "chunksize": 32768,
    "parallelthresh": 8192,
}
_INT_KEYS = {k for k, v in SNAP_PARAM_DEFAULTS.items() if isinstance(v, int)}
_REQUIRED = ("rcutfac", "twojmax")
# Flags phasetune does not (yet) reproduce in its descriptor compute.
_UNSUPPORTED = {
    "chemflag": "explicit multi-element (chem) SNAP is not supported yet",
    "switchinnerflag": "inner switching (switchinnerflag) is not supported yet",
}


def bispectrum_count(twojmax: int) -> int:
    """Number of bispectrum components B_i of linear single-species SNAP for a given 2J_max."""
    count = 0
    for j1 in range(twojmax + 1):
        for j2 in range(j1 + 1):
            for j in range(j1 - j2, min(twojmax, j1 + j2) + 1, 2):
                if j >= j1:
                    count += 1
    return count


def bispectrum_labels(twojmax: int) -> list[str]:
    """Labels ``B[j1,j2,j]`` (in units of 2j) in LAMMPS order."""
    labels = []
    for j1 in range(twojmax + 1):
        for j2 in range(j1 + 1):
            for j in range(j1 - j2, min(twojmax, j1 + j2) + 1, 2):
                if j >= j1:
                    labels.append(f"B[{j1},{j2},{j}]")
    return labels


def _content_lines(path: Path) -> list[tuple[int, str]]:
    try:
        text = path.read_text()
    except FileNotFoundError as exc:
        raise PotentialError(f"potential file not found: {path}", "check the path") from exc
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if line:
            out.append((number, line))
    return out


def _require_finite(value: float, where: str) -> None:
    """Raise :class:`PotentialError` if ``value`` is NaN or ±inf (``where`` names file, line and
    coefficient)."""
    if not np.isfinite(value):
        raise PotentialError(
            f"{where} is {value} (not a finite number)",
            "replace it with the fitted value; a NaN or inf usually comes from a failed fit "
            "or an interrupted write",
        )


def _header_comments(path: Path) -> list[str]:
    comments = []
    for raw in path.read_text().splitlines():
        stripped = raw.strip()
        if stripped.startswith("#"):
            comments.append(stripped)
        elif stripped:
            break
    return comments


@dataclass
class SnapParams:
    """Contents of a ``.snapparam`` file (hyper-parameters of the SNAP descriptors)."""

    values: dict[str, float | int]
    comments: list[str] = field(default_factory=list)

    def __getitem__(self, key: str) -> float | int:
        return self.values[key]

    @property
    def twojmax(self) -> int:
        return int(self.values["twojmax"])

    @property
    def rcutfac(self) -> float:
        return float(self.values["rcutfac"])

    @property
    def quadratic(self) -> bool:
        """True for quadratic SNAP (``quadraticflag 1``): products B_ik·B_il join the B_ik."""
        return int(self.values.get("quadraticflag", 0)) != 0

    def check_supported(self, source: str = "") -> None:
        """Raise :class:`PotentialError` for flags phasetune cannot reproduce."""
        for key, why in _UNSUPPORTED.items():
            if int(self.values.get(key, 0)) != 0:
                raise PotentialError(
                    f"{source}: {key} {self.values[key]}: {why}",
                    f"use a potential with {key} 0",
                )

    @classmethod
    def read(cls, path: str | Path) -> SnapParams:
        path = Path(path)
        values = dict(SNAP_PARAM_DEFAULTS)
        seen = set()
        for number, line in _content_lines(path):
            words = line.split()
            if len(words) != 2:
                raise PotentialError(
                    f"{path}:{number}: expected 'keyword value', got {line!r}",
                    "one keyword and one value per line",
                )
            key, value = words
            if key not in SNAP_PARAM_DEFAULTS:
                raise PotentialError(
                    f"{path}:{number}: unknown SNAP keyword {key!r}",
                    f"allowed: {', '.join(SNAP_PARAM_DEFAULTS)}",
                )
            try:
                values[key] = int(value) if key in _INT_KEYS else float(value)
            except ValueError as exc:
                raise PotentialError(
                    f"{path}:{number}: value of {key} is not a number: {value!r}"
                ) from exc
            _require_finite(values[key], f"{path}:{number}: {key}")
            seen.add(key)
        missing = [k for k in _REQUIRED if k not in seen]
        if missing:
            raise PotentialError(f"{path}: required keyword(s) missing: {', '.join(missing)}")
        return cls(values=values, comments=_header_comments(path))

    def write(self, path: str | Path) -> None:
        lines = list(self.comments) or ["# SNAP descriptor parameters written by phasetune"]
        for key, default in SNAP_PARAM_DEFAULTS.items():
            value = self.values.get(key, default)
            if key in _REQUIRED or value != default:
                lines.append(f"{key} {value!r}" if isinstance(value, float) else f"{key} {value}")
        Path(path).write_text("\n".join(lines) + "\n")


@dataclass
class SnapElement:
    """One element block of a ``.snapcoeff`` file: radius, weight, β0 then the β_k (and, for
    quadratic SNAP, the K(K+1)/2 upper-triangular α_kl after the K linear β_k)."""

    name: str
    radius: float
    weight: float
    coefficients: np.ndarray  # (1 + n_block,), constant first


@dataclass
class SnapCoeff:
    """Contents of a ``.snapcoeff`` file."""

    elements: list[SnapElement]
    comments: list[str] = field(default_factory=list)

    @property
    def n_coefficients(self) -> int:
        """Coefficients per element, including the constant."""
        return len(self.elements[0].coefficients)

    def element(self, name: str) -> SnapElement:
        for e in self.elements:
            if e.name == name:
                return e
        raise PotentialError(
            f"element {name!r} is not in the SNAP coefficient file",
            f"available: {', '.join(e.name for e in self.elements)}",
        )

    @classmethod
    def read(cls, path: str | Path) -> SnapCoeff:
        path = Path(path)
        lines = _content_lines(path)
        if not lines:
            raise PotentialError(f"{path}: empty coefficient file")

        def numbers(idx: int, count: int, kinds: tuple) -> list:
            number, line = lines[idx]
            words = line.split()
            if len(words) != count:
                raise PotentialError(
                    f"{path}:{number}: expected {count} fields, got {line!r}"
                )
            try:
                return [k(w) for k, w in zip(kinds, words, strict=True)]
            except ValueError as exc:
                raise PotentialError(f"{path}:{number}: non-numeric value in {line!r}") from exc

        n_elem, n_coeff = numbers(0, 2, (int, int))
        expected = 1 + n_elem * (1 + n_coeff)
        if len(lines) != expected:
            raise PotentialError(
                f"{path}: header declares {n_elem} element(s) × {n_coeff} coefficients "
                f"({expected} content lines), found {len(lines)}",
                "check the header line 'n_elements n_coefficients'",
            )
        elements = []
        idx = 1
        for _ in range(n_elem):
            number, line = lines[idx]
            words = line.split()
            if len(words) != 3:
                raise PotentialError(
                    f"{path}:{number}: expected 'element radius weight', got {line!r}"
                )
            try:
                radius, weight = float(words[1]), float(words[2])
            except ValueError as exc:
                raise PotentialError(f"{path}:{number}: non-numeric radius/weight") from exc
            for what, value in (("radius", radius), ("weight", weight)):
                _require_finite(value, f"{path}:{number}: {what} of element {words[0]}")
            coeffs = [numbers(idx + 1 + k, 1, (float,))[0] for k in range(n_coeff)]
            for k, value in enumerate(coeffs):
                what = "β0 (coefficient 0, the constant)" if k == 0 else f"coefficient {k}"
                _require_finite(value, f"{path}:{lines[idx + 1 + k][0]}: {what} of element "
                                       f"{words[0]}")
            elements.append(SnapElement(words[0], radius, weight, np.array(coeffs)))
            idx += 1 + n_coeff
        return cls(elements=elements, comments=_header_comments(path))

    def write(self, path: str | Path) -> None:
        lines = list(self.comments) or ["# SNAP coefficients written by phasetune"]
        lines.append(f"{len(self.elements)} {self.n_coefficients}")
        for e in self.elements:
            lines.append(f"{e.name} {e.radius!r} {e.weight!r}")
            lines.extend(repr(float(c)) for c in e.coefficients)
        Path(path).write_text("\n".join(lines) + "\n")


@dataclass
class PairInclude:
    """A LAMMPS include file defining a potential (``pair_style`` + ``pair_coeff`` lines).

    ``variable NAME equal VALUE`` definitions are substituted into ``${NAME}`` and ``$N``;
    ``&`` continuations are joined.
    """

    pair_style: list[str]
    pair_coeffs: list[list[str]]
    comments: list[str] = field(default_factory=list)

    @classmethod
    def read(cls, path: str | Path) -> PairInclude:
        path = Path(path)
        joined: list[tuple[int, str]] = []
        buffer, start = "", 0
        for number, line in _content_lines(path):
            if not buffer:
                start = number
            if line.endswith("&"):
                buffer += line[:-1] + " "
                continue
            joined.append((start, buffer + line))
            buffer = ""
        variables: dict[str, str] = {}
        style: list[str] | None = None
        coeffs: list[list[str]] = []
        for number, line in joined:
            line = re.sub(r"\$\{(\w+)\}|\$(\w)",
                          lambda m, n=number: _subst(m, variables, path, n), line)
            words = line.split()
            if words[0] == "variable":
                if len(words) != 4 or words[2] not in ("equal", "string", "index"):
                    raise PotentialError(f"{path}:{number}: unsupported variable line {line!r}")
                variables[words[1]] = words[3]
            elif words[0] == "pair_style":
                style = words[1:]
            elif words[0] == "pair_coeff":
                coeffs.append(words[1:])
            else:
                raise PotentialError(
                    f"{path}:{number}: unsupported command {words[0]!r} in a potential file",
                    "only variable, pair_style and pair_coeff are allowed",
                )
        if style is None:
            raise PotentialError(f"{path}: no pair_style line")
        return cls(pair_style=style, pair_coeffs=coeffs, comments=_header_comments(path))


def _subst(match: re.Match, variables: dict[str, str], path: Path, number: int) -> str:
    name = match.group(1) or match.group(2)
    if name not in variables:
        raise PotentialError(f"{path}:{number}: undefined variable ${{{name}}}")
    return variables[name]
