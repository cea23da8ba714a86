"""An ML-IAP ``nn`` potential as a :class:`~phasetune.nonlinear.model.DescriptorModel`, in torch.

ε(B_i; θ) is the network of :mod:`phasetune.potentials.mliap` evaluated in float64 on batched
per-atom descriptors B (F, N, K); E_f = Σ_i ε(B_fi; θ) (eV, total, without the θ-independent
overlay such as ZBL, which LAMMPS adds).  ∂E/∂θ is exact (reverse-mode autodiff, vectorised over
frames with ``torch.func.vmap``); ∂ε_i/∂B_i is available for force chains.

torch is the optional extra ``phasetune[nn]``; it is imported when a model is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import PhasetuneError
from ..potentials.mliap import NNPotential, layer_param_counts

if TYPE_CHECKING:  # pragma: no cover
    import torch


def require_torch() -> Any:
    """The torch module, or a :class:`PhasetuneError` naming the extra to install."""
    try:
        import torch
    except ImportError as exc:
        raise PhasetuneError("non-linear (nn) potentials need PyTorch, which is not installed",
                             "pip install 'phasetune[nn]'") from exc
    return torch


def activation(name: str) -> Any:
    """The torch function of an ML-IAP activation name."""
    torch = require_torch()
    table = {"linear": lambda x: x, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
             "relu": torch.relu}
    return table[name]


class NetworkModel:
    """ε(B; θ) of an :class:`NNPotential`: a :class:`DescriptorModel` with θ = ``potential.theta``.

    Args:
        potential: the network (architecture, per-element scale0/scale1; its θ is the default).

    Attributes:
        n_params: P (all elements).
        n_descriptors: K.
        n_elements: number of elements (blocks of θ, each P / n_elements long).
    """

    def __init__(self, potential: NNPotential):
        torch = require_torch()
        self.potential = potential
        self.n_descriptors = potential.n_descriptors
        self.n_params = potential.n_params
        self.n_elements = len(potential.elements)
        self.n_element_params = potential.architecture.n_params
        self._scale0 = torch.as_tensor(np.array(potential.scale0), dtype=torch.float64)
        self._scale1 = torch.as_tensor(np.array(potential.scale1), dtype=torch.float64)
        self._acts = [activation(a) for a in potential.architecture.activations]
        sizes = (self.n_descriptors, *potential.architecture.layers)
        self._shapes = []
        start = 0
        for i, count in enumerate(layer_param_counts(self.n_descriptors,
                                                     potential.architecture.layers)):
            self._shapes.append((start, sizes[i + 1], sizes[i] + 1))
            start += count

    def __reduce__(self):
        """Pickled as its potential (campaign workers rebuild the torch parts)."""
        return (NetworkModel, (self.potential,))

    # -- torch core ------------------------------------------------------------------------
    def element_energies(self, b: torch.Tensor, theta_e: torch.Tensor, element: int = 0
                         ) -> torch.Tensor:
        """ε (...) eV of descriptors ``b`` (..., K) for one element's parameters (P_e,)."""
        x = (b - self._scale0[element]) / self._scale1[element]
        for (start, n_out, n_in1), act in zip(self._shapes, self._acts, strict=True):
            block = theta_e[start:start + n_out * n_in1].reshape(n_out, n_in1)
            x = act(x @ block[:, 1:].T + block[:, 0])
        return x[..., 0]

    def atom_energies_tensor(self, b: torch.Tensor, theta: torch.Tensor,
                             species: np.ndarray | None = None) -> torch.Tensor:
        """Per-atom energies (F, N) eV of ``b`` (F, N, K) at θ (P,), differentiable in both."""
        torch = require_torch()
        blocks = theta.reshape(self.n_elements, self.n_element_params)
        if species is None or self.n_elements == 1:
            self._check_species(species, b.shape[-2])
            return self.element_energies(b, blocks[0], 0)
        species = self._check_species(species, b.shape[-2])
        out = b.new_zeros(b.shape[:-1])
        for e in np.unique(species):
            idx = torch.as_tensor(np.flatnonzero(species == e))
            out = out.index_copy(-1, idx, self.element_energies(b[..., idx, :], blocks[e], int(e)))
        return out

    def _check_species(self, species: np.ndarray | None, n_atoms: int) -> np.ndarray | None:
        if species is None:
            if self.n_elements != 1:
                raise PhasetuneError(f"{self.potential.name} has {self.n_elements} elements: "
                                     "per-atom species are needed",
                                     "pass species (N,) element indices")
            return None
        species = np.asarray(species, dtype=int)
        if species.shape != (n_atoms,) or species.min() < 0 or species.max() >= self.n_elements:
            raise PhasetuneError(f"species must be (N={n_atoms},) element indices in "
                                 f"[0, {self.n_elements}), got shape {species.shape}")
        return species

    def _inputs(self, descriptors: np.ndarray, theta: np.ndarray | None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        torch = require_torch()
        b = torch.as_tensor(np.asarray(descriptors, dtype=float))
        if b.ndim != 3 or b.shape[-1] != self.n_descriptors:
            raise PhasetuneError(f"descriptors must be (F, N, K={self.n_descriptors}), got "
                                 f"{tuple(b.shape)}")
        t = self.potential.theta if theta is None else np.asarray(theta, dtype=float)
        if t.shape != (self.n_params,):
            raise PhasetuneError(f"θ has shape {t.shape}, expected ({self.n_params},)")
        return b, torch.as_tensor(t)

    # -- DescriptorModel -------------------------------------------------------------------
    def atom_energies(self, descriptors: np.ndarray, theta: np.ndarray | None = None,
                      species: np.ndarray | None = None) -> np.ndarray:
        """Per-atom energies ε (F, N) eV of ``descriptors`` (F, N, K) at θ (P,) (default: the
        potential's)."""
        torch = require_torch()
        b, t = self._inputs(descriptors, theta)
        with torch.no_grad():
            return self.atom_energies_tensor(b, t, species).numpy()

    def energies(self, descriptors: np.ndarray, theta: np.ndarray | None = None,
                 species: np.ndarray | None = None) -> np.ndarray:
        """Total energies (F,) eV of frames ``descriptors`` (F, N, K) at θ (P,)."""
        return self.atom_energies(descriptors, theta, species).sum(axis=1)

    def energies_and_gradients(self, descriptors: np.ndarray, theta: np.ndarray | None = None,
                               species: np.ndarray | None = None
                               ) -> tuple[np.ndarray, np.ndarray]:
        """Total energies (F,) eV and exact ∂E/∂θ (F, P) eV per unit θ."""
        torch = require_torch()
        b, t = self._inputs(descriptors, theta)

        def frame_energy(theta_: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
            e = self.atom_energies_tensor(frame[None], theta_, species).sum()
            return e, e

        grad, energy = torch.func.vmap(torch.func.grad(frame_energy, has_aux=True),
                                       in_dims=(None, 0))(t, b)
        return energy.detach().numpy(), grad.detach().numpy()

    def descriptor_gradients(self, descriptors: np.ndarray, theta: np.ndarray | None = None,
                             species: np.ndarray | None = None
                             ) -> tuple[np.ndarray, np.ndarray]:
        """Per-atom energies ε (F, N) eV and ∂ε_i/∂B_i (F, N, K) eV per descriptor unit (each
        atom's energy depends on its own descriptors only, so one backward pass gives all)."""
        torch = require_torch()
        b, t = self._inputs(descriptors, theta)
        b = b.clone().requires_grad_(True)
        eps = self.atom_energies_tensor(b, t, species)
        (grad,) = torch.autograd.grad(eps.sum(), b)
        return eps.detach().numpy(), grad.numpy()
