"""Conventions that every free energy depends on (method.md §3), recorded with each result.

* statistics: classical (no quantum correction).
* modes: ``"3N"`` counts r = 3 vibrational modes per atom (bulk-like, default);
  ``"3N-3"`` counts 3N − 3 modes with the centre of mass fixed, r = 3 − 3/N, which is what a
  COM-fixed thermodynamic integration measures.
* All F, s, E and θ·D are per atom.  The free centre-of-mass translation term f_trans is excluded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from .errors import PhasetuneError

ModeCount = Literal["3N", "3N-3"]

BULK_MODES_PER_ATOM = 3.0
"""r of the ``"3N"`` convention, whatever N."""


@dataclass(frozen=True)
class Conventions:
    """Bookkeeping choices for free energies.

    Attributes:
        modes: ``"3N"`` (r = 3) or ``"3N-3"`` (r = 3 − 3/N, centre of mass fixed).
        statistics: only ``"classical"`` is implemented.
    """

    modes: ModeCount = "3N"
    statistics: str = "classical"

    def __post_init__(self) -> None:
        if self.modes not in ("3N", "3N-3"):
            raise PhasetuneError(
                f"unknown mode-count convention {self.modes!r}", "use '3N' or '3N-3'"
            )
        if self.statistics != "classical":
            raise PhasetuneError(
                f"statistics {self.statistics!r} is not implemented", "use 'classical'"
            )

    def modes_per_atom(self, n_atoms: int) -> float:
        """r, the number of vibrational modes per atom for a cell of ``n_atoms`` atoms."""
        if self.modes == "3N":
            return BULK_MODES_PER_ATOM
        return BULK_MODES_PER_ATOM - 3.0 / n_atoms

    def as_dict(self) -> dict:
        return {**asdict(self), "per_atom": True, "com_translation": "excluded"}
