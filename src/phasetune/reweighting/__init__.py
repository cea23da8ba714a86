"""Trajectory reweighting: free energies of any θ from frames sampled at θ0 (method.md §2.6).

* :mod:`.estimator` — δF(θ), its exact gradient, the Kish ESS and block-averaged errors;
* :mod:`.models` — the DescriptorModel of a potential (:func:`model_for`);
* :mod:`.store` — the HDF5 frame store;
* :mod:`.sampling` — NVT/NPT MD of θ0 recording per-atom descriptors (resumable);
* :mod:`.predict` — the store + model + anchors glue used by the CLI.
"""

from .estimator import (
    DEFAULT_MIN_ESS,
    LowEffectiveSampleError,
    ReweightResult,
    cross_phase,
    energy_differences,
    reweight,
)
from .models import model_for

__all__ = [
    "DEFAULT_MIN_ESS",
    "LowEffectiveSampleError",
    "ReweightResult",
    "cross_phase",
    "energy_differences",
    "model_for",
    "reweight",
]
