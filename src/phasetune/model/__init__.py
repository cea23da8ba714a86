"""The data vocabulary every step shares (numpy only; imports nothing above ``conventions``).

* :class:`HarmonicReference` — the harmonic reference of one (phase, volume): lattice, modes,
  shells, shell temperatures and the exactly solvable harmonic model.
* :class:`ShellStats` — compressed descriptor statistics of one isosurface.
* :class:`DescriptorInfo`, :class:`PhaseVolume` — what D means; one (phase, volume) of a campaign.
* :mod:`phasetune.model.harmonic` — the harmonic free-energy and shell formulas.
"""

from .phase_volume import DescriptorInfo, PhaseVolume
from .reference import HarmonicReference, minimum_image
from .shells import HIST_RANGE, N_BINS, N_POWERS, ShellStats, shells_have_raw

__all__ = ["HIST_RANGE", "N_BINS", "N_POWERS", "DescriptorInfo", "HarmonicReference",
           "PhaseVolume", "ShellStats", "shells_have_raw", "minimum_image"]
