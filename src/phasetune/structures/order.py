"""Long-range order from positions: static structure factor and Bragg order (numpy).

S(k) = |Σ_j e^{ik·r_j}|²/N at wave vectors k of the periodic cell (Å⁻¹).  Any crystal formed in
a periodic cell is commensurate with it, so its Bragg peaks lie on the cell's reciprocal vectors:
at the first Bragg vectors G of a reference crystal, the *Bragg order* ⟨S(G)⟩/N is
≈ e^{−G²⟨u²⟩/3} (0.5–0.9 for a thermal crystal up to melting) and O(1/N) for a liquid.  Used by
the campaign's kinetic samplers (a crystal shell that melts, a liquid shell that crystallises)
and by the TI liquid checks.
"""

from __future__ import annotations

import numpy as np

from ..errors import PhasetuneError

K_WINDOW = (5.5, 8.5)
"""|k|·v^{1/3} window of the first peaks of bcc, fcc, hcp and liquids (v: volume per atom)."""


def volume_per_atom(cell: np.ndarray, n_atoms: int) -> float:
    """Å³/atom of a periodic cell (3, 3) Å holding n_atoms."""
    return abs(float(np.linalg.det(np.asarray(cell, dtype=float)))) / n_atoms


def reciprocal_vectors(cell: np.ndarray, k_min: float, k_max: float) -> np.ndarray:
    """Reciprocal vectors G = 2π n·(cell⁻¹)ᵀ (Å⁻¹) of the periodic cell with
    k_min ≤ |G| ≤ k_max, one of each ±G pair: (n_k, 3)."""
    cell = np.asarray(cell, dtype=float)
    recip = 2.0 * np.pi * np.linalg.inv(cell).T  # rows b1, b2, b3
    widths = 2.0 * np.pi / np.linalg.norm(recip, axis=1)  # plane spacings of the cell
    n_max = np.ceil(k_max * widths / (2.0 * np.pi)).astype(int)
    grids = np.meshgrid(*(np.arange(-n, n + 1) for n in n_max), indexing="ij")
    n = np.stack([g.ravel() for g in grids], axis=1)
    first = (n[:, 0] > 0) | ((n[:, 0] == 0) & (n[:, 1] > 0)) | \
            ((n[:, 0] == 0) & (n[:, 1] == 0) & (n[:, 2] > 0))
    k = n[first] @ recip
    norm = np.linalg.norm(k, axis=1)
    return k[(norm >= k_min) & (norm <= k_max)]


def structure_factor(positions: np.ndarray, kvectors: np.ndarray) -> np.ndarray:
    """S(k) = |Σ_j e^{ik·r_j}|²/N at each k, (n_k,) (positions (N, 3) Å, k (n_k, 3) Å⁻¹)."""
    positions = np.asarray(positions, dtype=float)
    phase = np.asarray(kvectors, dtype=float) @ positions.T
    rho = np.exp(1j * phase).sum(axis=1)
    return np.abs(rho) ** 2 / len(positions)


MIN_PEAK = 0.05
"""S(G)/N below which a window holds no Bragg peak (a liquid or a disordered reference)."""


def bragg_vectors(positions: np.ndarray, cell: np.ndarray, threshold: float = 0.9) -> np.ndarray:
    """The first Bragg peaks of a crystal (positions (N, 3) Å, e.g. a perfect lattice): the
    cell's reciprocal vectors in :data:`K_WINDOW` where S(G)/N ≥ ``threshold`` × the strongest
    peak there (1 for a Bravais lattice, 0.25 for A15), shortest shell only, (n_G, 3) Å⁻¹ (the 6
    {110} vectors of BCC, one of each ±G pair)."""
    positions = np.asarray(positions, dtype=float)
    cell = np.asarray(cell, dtype=float)
    a = volume_per_atom(cell, len(positions)) ** (1.0 / 3.0)
    k = reciprocal_vectors(cell, K_WINDOW[0] / a, K_WINDOW[1] / a)
    s = structure_factor(positions, k) / len(positions)
    strongest = float(s.max()) if len(s) else 0.0
    peaks = k[s >= threshold * strongest] if strongest >= MIN_PEAK else k[:0]
    if not len(peaks):
        raise PhasetuneError("the reference structure has no Bragg peak in the first-shell "
                             "window", "give a crystal (bcc, fcc, hcp, …) as the reference")
    norms = np.linalg.norm(peaks, axis=1)
    return peaks[norms <= norms.min() * (1 + 1e-6)]


def bragg_order(positions: np.ndarray, kvectors: np.ndarray) -> float:
    """Mean S(G)/N over a reference crystal's Bragg vectors: ≈ e^{−G²⟨u²⟩/3} for that crystal,
    O(1/N) when it has melted."""
    return float(structure_factor(positions, kvectors).mean() / len(positions))


def bragg_reference(positions: np.ndarray, cell: np.ndarray,
                    threshold: float = 0.9) -> tuple[np.ndarray, float]:
    """(Bragg vectors of a perfect crystal, its own Bragg order there): dividing an order by the
    second gives 1 for the perfect crystal whatever its structure factor (BCC: 1; A15: 0.25)."""
    kvectors = bragg_vectors(positions, cell, threshold)
    return kvectors, bragg_order(positions, kvectors)
