"""The linear design matrix of a training set for a SNAP descriptor spec.

Rows (targets y, weights w):
* energy per atom:  E/N − E_fix/N = β0 + θ·D(X)                 → [1, D(X)]
* force component:  F_ia − F_fix,ia = Σ_k θ_k (−∂ΣB^k/∂R_ia)     → [0, snad_ia]

θ here are the free components only (fixed components, e.g. ZBL, are moved into the targets);
columns are (β0, θ_free).  ``compute snad/atom`` returns −∂(Σ_i B_i)/∂R_j per atom j, laid out as
[x-block, y-block, z-block] of N_B columns (per element type for multi-element specs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms

from ..engine.calculators import DescriptorEvaluator, sna_compute_command
from ..engine.session import Engine
from ..errors import PhasetuneError
from ..potentials.linear import DescriptorSpec

SNAD_ID = "pt_snad"


@dataclass
class DesignMatrix:
    """Φ (n_rows, 1 + n_free), targets y (n_rows,), weights w (n_rows,) and row kinds.

    Attributes:
        phi: columns (β0, θ_free...).
        y: targets in eV/atom (energy rows) or eV/Å (force rows), fixed parts removed.
        weights: per-row weights (1/σ_row, so Φᵀdiag(w²)Φ is the Gram matrix).
        is_energy: (n_rows,) True for energy rows.
        free: (N_D,) mask of free θ components in the full descriptor vector.
    """

    phi: np.ndarray
    y: np.ndarray
    weights: np.ndarray
    is_energy: np.ndarray
    free: np.ndarray

    def gram(self) -> np.ndarray:
        """ΦᵀWΦ with W = diag(w²), (1 + n_free, 1 + n_free)."""
        a = self.phi * self.weights[:, None]
        return a.T @ a

    def rmse(self, coefficients: np.ndarray) -> tuple[float, float]:
        """(energy RMSE eV/atom, force RMSE eV/Å) of coefficients (β0, θ_free)."""
        r = self.phi @ coefficients - self.y
        e = np.sqrt(np.mean(r[self.is_energy] ** 2)) if self.is_energy.any() else np.nan
        f = np.sqrt(np.mean(r[~self.is_energy] ** 2)) if (~self.is_energy).any() else np.nan
        return float(e), float(f)


def design_matrix(frames: list[Atoms], spec: DescriptorSpec, energy_sigma: float = 1e-3,
                  force_sigma: float = 0.05, use_forces: bool = True) -> DesignMatrix:
    """Build Φ, y and weights from labelled frames.

    Args:
        frames: configurations with energy (eV) and forces (eV/Å).
        spec: descriptor specification (single element).
        energy_sigma: noise scale of energies, eV/atom.
        force_sigma: noise scale of force components, eV/Å.
        use_forces: include force rows (needs ``compute snad/atom``).
    """
    if len(spec.elements) != 1:
        raise PhasetuneError("training design matrices support single-element specs for now")
    if not frames:
        raise PhasetuneError("the training set is empty")
    free = ~spec.fixed_mask
    rows, ys, ws, kinds = [], [], [], []
    engine = Engine(label="design matrix")
    snad = sna_compute_command(spec, SNAD_ID).replace("sna/atom", "snad/atom")
    for atoms in frames:
        if set(atoms.get_chemical_symbols()) != set(spec.elements):
            raise PhasetuneError(f"training frame {atoms.get_chemical_formula()} does not match "
                                 f"the descriptor elements {spec.elements}")
        n = len(atoms)
        evaluator = DescriptorEvaluator(atoms, spec, engine=engine)
        if use_forces:
            engine.command(snad)
        d = evaluator.descriptors(atoms.positions)
        e_fix = d[~free].sum() if spec.has_fixed else 0.0
        rows.append(np.r_[1.0, d[free]])
        ys.append(atoms.get_potential_energy() / n - e_fix)
        ws.append(1.0 / energy_sigma)
        kinds.append(True)
        if use_forces:
            dforce = engine.per_atom_vectors(SNAD_ID)
            f_fix = engine.forces() if spec.has_fixed else np.zeros((n, 3))
            target = atoms.get_forces() - f_fix
            rows.extend(np.c_[np.zeros(3 * n), dforce.reshape(3 * n, -1)])
            ys.extend(target.ravel())
            ws.extend([1.0 / force_sigma] * (3 * n))
            kinds.extend([False] * (3 * n))
    engine.close()
    return DesignMatrix(np.array(rows), np.array(ys), np.array(ws), np.array(kinds), free)
