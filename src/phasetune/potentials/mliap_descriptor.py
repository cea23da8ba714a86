"""The interaction range of LAMMPS ML-IAP pair styles (``pair_style mliap … descriptor sna FILE``).

The SNA descriptor file holds ``key value…`` lines (``rcutfac``, ``twojmax``, ``nelems``,
``elems``, ``radelems``, ``welems``, …).  The pair cutoff between elements i and j is
rcutfac·(radelem_i + radelem_j), so the range of the potential is 2·rcutfac·max(radelem), Å.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import PotentialError
from .snap_files import _content_lines


def read_descriptor(path: str | Path) -> dict[str, list[str]]:
    """The ``key value…`` lines of an ML-IAP descriptor file (comments dropped)."""
    path = Path(path)
    return {words[0]: words[1:] for _, line in _content_lines(path)
            for words in [line.split()]}


def sna_cutoff(path: str | Path) -> float:
    """2·rcutfac·max(radelems) of an SNA descriptor file, Å."""
    values = read_descriptor(path)
    try:
        rcutfac = float(values["rcutfac"][0])
        radii = [float(r) for r in values["radelems"]]
    except (KeyError, IndexError, ValueError) as exc:
        raise PotentialError(f"{path}: no valid rcutfac / radelems ({exc})",
                             "give an ML-IAP SNA descriptor file") from exc
    if not radii:
        raise PotentialError(f"{path}: radelems lists no radius", "give one per element")
    return 2.0 * rcutfac * max(radii)


def mliap_cutoff(pair_style: list[str] | tuple[str, ...], base: Path) -> float | None:
    """The largest ``descriptor sna FILE`` cutoff among the ``mliap`` sub-styles of a
    ``pair_style`` (file names relative to ``base`` or absolute), Å; None if there is none."""
    cutoffs = []
    words = list(pair_style)
    for i, word in enumerate(words[:-2]):
        if word == "descriptor" and words[i + 1] == "sna":
            cutoffs.append(sna_cutoff(base / words[i + 2]))
    return max(cutoffs) if cutoffs else None
