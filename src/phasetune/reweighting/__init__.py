"""Trajectory reweighting: free energies of any θ from frames sampled at θ0 (method.md §2.6).

* :mod:`.estimator` — δF(θ), its exact gradient, the Kish ESS and block-averaged errors;
* :func:`model_for` (from :mod:`phasetune.nonlinear.model`) — the DescriptorModel of a potential;
* :mod:`.store` — the HDF5 frame store;
* :mod:`.sampling` — NVT/NPT MD of θ0 recording per-atom descriptors (resumable);
* :mod:`.predict` — the store + model + anchors glue used by the CLI.
"""

from ..nonlinear.model import model_for
from .estimator import (
    DEFAULT_MIN_ESS,
    LowEffectiveSampleError,
    ReweightResult,
    cross_phase,
    energy_differences,
    reweight,
)

__all__ = [
    "DEFAULT_MIN_ESS",
    "LowEffectiveSampleError",
    "ReweightResult",
    "cross_phase",
    "energy_differences",
    "model_for",
    "reweight",
]
