"""The one interface the non-linear routes (reweighting, tangent D-DOS) evaluate a potential by.

A :class:`DescriptorModel` maps per-atom descriptors to total energies and their gradient in θ:

    E(X; θ) = Σ_i ε(B_i(X); θ)        (eV, total over the N atoms of one configuration)

where B_i (K,) are the per-atom descriptors LAMMPS computes (``compute sna/atom``) and θ (P,) are
all the model's parameters in the order of its parameter file.  Frames are batched as B (F, N, K);
``species`` (N,) holds each atom's element index (all zeros for one element).

:class:`LinearModel` is the linear SNAP case, ε(B; θ) = β0 + θ·B, used as the analytic test system
of every route built on this interface (its gradient is Σ_i B_i, independent of θ).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..errors import PotentialError
from ..potentials.linear import DescriptorSpec, LinearPotential
from ..potentials.mliap import NNPotential


@runtime_checkable
class DescriptorModel(Protocol):
    """A per-atom energy model on per-atom descriptors (see module doc).

    Attributes:
        n_params: P, the length of θ.
        n_descriptors: K, the per-atom descriptor length it expects.
    """

    n_params: int
    n_descriptors: int

    def energies(self, descriptors: np.ndarray, theta: np.ndarray,
                 species: np.ndarray | None = None) -> np.ndarray:
        """Total energies (F,) eV of frames ``descriptors`` (F, N, K) at parameters θ (P,)."""
        ...

    def energies_and_gradients(self, descriptors: np.ndarray, theta: np.ndarray,
                               species: np.ndarray | None = None
                               ) -> tuple[np.ndarray, np.ndarray]:
        """Total energies (F,) eV and their gradients ∂E/∂θ (F, P) eV per unit θ."""
        ...


class LinearModel:
    """ε(B; θ) = β0 + θ·B for one element: the linear SNAP energy as a :class:`DescriptorModel`.

    Args:
        n_descriptors: K.
        beta0: the constant per-atom energy β0, eV (not part of θ).
    """

    def __init__(self, n_descriptors: int, beta0: float = 0.0):
        self.n_descriptors = int(n_descriptors)
        self.n_params = int(n_descriptors)
        self.beta0 = float(beta0)

    def energies(self, descriptors: np.ndarray, theta: np.ndarray,
                 species: np.ndarray | None = None) -> np.ndarray:
        b = np.asarray(descriptors, dtype=float)
        return b.shape[1] * self.beta0 + b.sum(axis=1) @ np.asarray(theta, dtype=float)

    def energies_and_gradients(self, descriptors: np.ndarray, theta: np.ndarray,
                               species: np.ndarray | None = None
                               ) -> tuple[np.ndarray, np.ndarray]:
        b = np.asarray(descriptors, dtype=float)
        grad = b.sum(axis=1)
        return b.shape[1] * self.beta0 + grad @ np.asarray(theta, dtype=float), grad


def model_for(potential: Any) -> tuple[DescriptorModel, np.ndarray]:
    """(model, θ0) of a potential: its :class:`DescriptorModel` and its own parameters (P,).

    The one place a phasetune potential becomes a model evaluated on stored per-atom
    descriptors: a single-element linear (or quadratic) SNAP potential gives a
    :class:`LinearModel` (θ: the bispectrum block, β0 from the file; a θ-independent overlay such
    as ZBL is not part of the descriptors and cancels in U_θ − U_θ0), an ML-IAP nn potential its
    :class:`~phasetune.nonlinear.network.NetworkModel` (torch, the ``nn`` extra).

    Raises:
        PotentialError: a multi-element linear SNAP, or a potential with no descriptor model.
    """
    if isinstance(potential, LinearPotential):
        if len(potential.elements) != 1:
            raise PotentialError(f"{potential.name} has {len(potential.elements)} elements; "
                                 "the non-linear routes handle one element",
                                 "use a single-element SNAP potential")
        bisp = ~potential.spec.fixed_mask
        model = LinearModel(potential.spec.n_block, potential.beta0())
        return model, np.asarray(potential.theta[bisp], dtype=float)
    if isinstance(potential, NNPotential):
        from .network import NetworkModel

        return NetworkModel(potential), np.asarray(potential.theta, dtype=float)
    raise PotentialError(f"{getattr(potential, 'name', type(potential).__name__)} has no "
                         "descriptor model",
                         "give a linear SNAP potential or an ML-IAP nn potential "
                         "(pip install 'phasetune[nn]')")


def descriptor_spec(potential: Any) -> DescriptorSpec:
    """The SNAP descriptors (``compute sna/atom``) a potential's model is evaluated on."""
    spec = getattr(potential, "spec", None)
    if not isinstance(spec, DescriptorSpec):
        raise PotentialError(f"{getattr(potential, 'name', potential)!r} has no SNAP "
                             "descriptor specification", "give a SNAP or ML-IAP potential")
    return spec
