"""The :class:`~phasetune.nonlinear.model.DescriptorModel` of a potential, and its θ0.

:func:`model_for` is the one place the reweighting route turns a phasetune potential into a
model evaluated on stored per-atom descriptors: a single-element linear (or quadratic) SNAP
:class:`~phasetune.potentials.linear.LinearPotential` becomes a
:class:`~phasetune.nonlinear.model.LinearModel` (θ: the bispectrum block, β0 from the file; a
θ-independent overlay such as ZBL is not part of the descriptors and cancels in U_θ − U_θ0), and,
when the optional ``phasetune.potentials.mliap`` is installed, an ``NNPotential`` becomes its
``NetworkModel``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import PotentialError
from ..nonlinear.model import DescriptorModel, LinearModel
from ..potentials.linear import DescriptorSpec, LinearPotential


def _nn_classes() -> tuple[type, Any] | None:
    """(NNPotential, NetworkModel) when the network route is installed, else None."""
    try:
        from ..nonlinear.network import NetworkModel
        from ..potentials.mliap import NNPotential
    except ImportError:
        return None
    return NNPotential, NetworkModel


def model_for(potential: Any) -> tuple[DescriptorModel, np.ndarray]:
    """(model, θ0) of a potential: its DescriptorModel and its own parameters (P,).

    Raises:
        PotentialError: a multi-element linear SNAP, or a potential with no descriptor model.
    """
    if isinstance(potential, LinearPotential):
        if len(potential.elements) != 1:
            raise PotentialError(f"{potential.name} has {len(potential.elements)} elements; "
                                 "the reweighting route handles one element",
                                 "use a single-element SNAP potential")
        bisp = ~potential.spec.fixed_mask
        model = LinearModel(potential.spec.n_block, potential.beta0())
        return model, np.asarray(potential.theta[bisp], dtype=float)
    nn = _nn_classes()
    if nn is not None and isinstance(potential, nn[0]):
        model = nn[1].from_potential(potential) if hasattr(nn[1], "from_potential") \
            else nn[1](potential)
        theta = getattr(model, "theta0", None)
        if theta is None:
            theta = potential.theta
        return model, np.asarray(theta, dtype=float)
    raise PotentialError(f"{getattr(potential, 'name', type(potential).__name__)} has no "
                         "descriptor model for reweighting",
                         "give a linear SNAP potential or an ML-IAP nn potential "
                         "(pip install 'phasetune[nn]')")


def descriptor_spec(potential: Any) -> DescriptorSpec:
    """The SNAP descriptors (``compute sna/atom``) a potential's model is evaluated on."""
    spec = getattr(potential, "spec", None)
    if not isinstance(spec, DescriptorSpec):
        raise PotentialError(f"{getattr(potential, 'name', potential)!r} has no SNAP "
                             "descriptor specification", "give a SNAP or ML-IAP potential")
    return spec
