"""Provenance of a tuned potential: who changed θ, from what, with which data and targets.

The same dict goes into the tune report (``report["provenance"]``) and, as ``#`` comment lines,
at the top of the tuned ``.snapcoeff`` (LAMMPS skips comments, so the file loads as before).
The source potential's original header follows, so a tuned file keeps its citation.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from pathlib import Path

from .._version import __version__
from ..potentials.linear import LinearPotential

SOURCE_HEADER = "# --- header of the source potential file ---"


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes (what ``sha256sum`` prints)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def source_coefficients(potential: LinearPotential) -> Path | None:
    """The ``.snapcoeff`` file ``potential`` was read from, if known."""
    files = potential.original.files if potential.original is not None else ()
    return next((Path(f) for f in files if str(f).endswith(".snapcoeff")), None)


def tune_provenance(source: str, potential: LinearPotential, archives: list[Path],
                    targets: list, regulariser: str, relative_change: float,
                    converged: bool) -> dict:
    """The provenance dict of a tuning run.

    Args:
        source: the potential as the tune file names it (``lammps:NAME`` or a path).
        potential: the loaded source potential (θ0, β0).
        archives: the D-DOS archives the targets were evaluated on.
        targets: the targets (each with ``describe()``).
        regulariser: ``gram`` or ``ridge``.
        relative_change: |θ − θ0|/|θ0| (dimensionless).
        converged: whether every target was met.
    """
    coeff = source_coefficients(potential)
    return {
        "modified_by": f"phasetune {__version__}",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "change": "θ (SNAP coefficients 1…n) fine-tuned; β0, radii, weights and the "
                  ".snapparam unchanged",
        "source_potential": source,
        "source_name": potential.name,
        "source_file": str(coeff) if coeff else None,
        "source_sha256": file_sha256(coeff) if coeff else None,
        "archives": [str(Path(a).resolve()) for a in archives],
        "targets": [t.describe() for t in targets],
        "regulariser": regulariser,
        "relative_theta_change": float(relative_change),
        "converged": bool(converged),
    }


def header_lines(provenance: dict) -> list[str]:
    """``#`` comment lines stating the provenance (one fact per line)."""
    p = provenance
    sha = p["source_sha256"] or "unknown (not read from a file)"
    return [
        f"# Modified by {p['modified_by']} on {p['date']}: {p['change']}",
        f"# source potential: {p['source_potential']} ({p['source_file'] or p['source_name']})",
        f"# source sha256: {sha}",
        f"# archives: {', '.join(p['archives'])}",
        f"# targets: {'; '.join(p['targets'])}",
        f"# regulariser: {p['regulariser']}; |dtheta|/|theta| = "
        f"{p['relative_theta_change']:.3e}; converged: {'yes' if p['converged'] else 'no'}",
    ]


def with_provenance(tuned: LinearPotential, provenance: dict) -> LinearPotential:
    """``tuned`` whose ``.snapcoeff`` header starts with the provenance lines, followed by the
    source file's own header."""
    original = [c for c in tuned.coeff.comments]
    lines = header_lines(provenance) + ([SOURCE_HEADER, *original] if original else [])
    lines = [ln.replace("\n", " ").replace("\r", " ") for ln in lines]
    return replace(tuned, coeff=replace(tuned.coeff, comments=lines))
