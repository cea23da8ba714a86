"""Layout of quadratic SNAP descriptors (``quadraticflag 1``), as LAMMPS defines them.

With K bispectrum components B_i1 … B_iK of atom i, quadratic SNAP adds the K(K+1)/2 products

    Q_i = (½B_i1², B_i1·B_i2, …, B_i1·B_iK, ½B_i2², B_i2·B_i3, …, ½B_iK²)

in upper-triangular row-major order (k ≤ l, l fastest); the diagonal products carry a factor ½.
Both ``compute sna/atom … quadraticflag 1`` (columns K+1 … K + K(K+1)/2 of the per-atom array)
and ``pair_style snap`` (coefficients K+1 … of each element block, the upper triangle of a
symmetric α: E_i = β0 + β·B_i + ½B_iᵀαB_i = β0 + β·B_i + Σ_{k≤l} α_kl Q_ikl) use this layout, so
a quadratic potential stays linear in its coefficients: θ = (β, α_upper) and D = the per-atom
average of (B_i, Q_i).
"""

from __future__ import annotations

import numpy as np


def product_count(n_linear: int) -> int:
    """K(K+1)/2: the number of distinct products of K components."""
    return n_linear * (n_linear + 1) // 2


def product_indices(n_linear: int) -> tuple[np.ndarray, np.ndarray]:
    """(k, l) index arrays, each (K(K+1)/2,), of the products in LAMMPS order (k ≤ l)."""
    return np.triu_indices(n_linear)


def product_weights(n_linear: int) -> np.ndarray:
    """(K(K+1)/2,) factor of each product: ½ on the diagonal (k = l), 1 elsewhere."""
    k, l = product_indices(n_linear)
    return np.where(k == l, 0.5, 1.0)


def products(b: np.ndarray) -> np.ndarray:
    """Quadratic descriptors of per-atom bispectra ``b`` (..., K) → (..., K(K+1)/2), dimensionless
    like B: the products of each row with itself, diagonal halved (products per atom; average
    them afterwards, never multiply averages)."""
    b = np.asarray(b, dtype=float)
    k, l = product_indices(b.shape[-1])
    return b[..., k] * b[..., l] * product_weights(b.shape[-1])


def product_labels(labels: list[str]) -> list[str]:
    """Labels of the products of components named ``labels`` (K,), in LAMMPS order (ASCII):
    ``"B[0,0,0]^2/2"`` on the diagonal, ``"B[0,0,0]*B[1,0,1]"`` off it."""
    k, l = product_indices(len(labels))
    return [f"{labels[a]}^2/2" if a == b else f"{labels[a]}*{labels[b]}"
            for a, b in zip(k.tolist(), l.tolist(), strict=True)]
