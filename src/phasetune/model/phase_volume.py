"""One (phase, volume) of a campaign: its harmonic reference, its shells and what D means.

Shapes use N_D = descriptor components (SNAP bispectrum components without the constant, followed
by any fixed θ-independent components such as E_ZBL/N).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .reference import HarmonicReference
from .shells import ShellStats


@dataclass
class DescriptorInfo:
    """What the components of D are.

    Attributes:
        kind: ``"snap"`` (or ``"synthetic"`` for test archives).
        params: descriptor hyper-parameters (rcutfac, twojmax, rfac0, …) as a flat dict.
        labels: N_D component names.
        fixed: (N_D,) bool, True for θ-independent components whose coefficient is fixed at 1.
    """

    kind: str
    params: dict
    labels: list[str]
    fixed: np.ndarray

    @property
    def n_components(self) -> int:
        return len(self.labels)


@dataclass
class PhaseVolume:
    """Everything the estimator needs for one (phase, volume): reference and shells."""

    reference: HarmonicReference
    shells: list[ShellStats]
    descriptors: DescriptorInfo
    flavour: str = "hessian"
    provenance: dict = field(default_factory=dict)

    @property
    def alphas(self) -> np.ndarray:
        return np.array([s.alpha for s in self.shells])

    @property
    def liquid(self) -> bool:
        """A liquid phase (kinetic shells of the melted lattice, method.md §4.6)."""
        phase = self.provenance.get("phase")
        return isinstance(phase, dict) and phase.get("liquid") is not None
