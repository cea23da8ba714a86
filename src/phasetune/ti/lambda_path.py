"""Route A: λ-integration from the harmonic reference, COM fixed (method.md §9).

U_λ = (1 − λ)U_H + λU_θ with U_H = N·E0 + ½δXᵀH′δX.  Then, per atom,

    F^{(3−3/N)} = E0 + (k_BT/N)Σ_{l≤n} ln(ħΩ_l/k_BT) + (1/N)∫₀¹⟨U_θ − U_H⟩_λ dλ,

the integral by Gauss–Legendre quadrature over n_nodes values of λ.  Every node starts from an
exact harmonic draw (a_l ~ N(0, k_BT/ω_l), Maxwell velocities), so nodes are independent and the
quadrature error bar is (Σ_k w_k² σ_k²)^{1/2} with σ_k the block-averaged error of node k.  The
physical endpoint λ = 1 (run first: it fails fastest when the crystal melts) gives ⟨U_θ⟩/N,
⟨D⟩ and the Gibbs–Helmholtz cross-check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import PhasetuneError
from ..model import HarmonicReference
from .basin import BasinGuard
from .md import CoupledMD
from .stats import gauss_legendre, summarize_series
from .temperature import sample_energy, sample_segment


@dataclass(frozen=True)
class LambdaSettings:
    """Route A settings.

    Attributes:
        n_nodes: Gauss–Legendre nodes in λ (method.md: 8–16).
        equilibration: MD steps discarded per node.
        production: MD steps recorded per node.
        endpoint: also sample the physical ensemble λ = 1 (⟨U⟩, ⟨D⟩, melting check).
    """

    n_nodes: int = 8
    equilibration: int = 1000
    production: int = 4000
    endpoint: bool = True

    def __post_init__(self) -> None:
        if self.n_nodes < 2 or self.production <= 0 or self.equilibration < 0:
            raise PhasetuneError("λ-integration needs ≥ 2 nodes and positive production steps")

    def steps_per_repeat(self) -> int:
        return (self.n_nodes + int(self.endpoint)) * (self.equilibration + self.production)

    def to_dict(self) -> dict:
        return asdict(self)


def lambda_repeat(md: CoupledMD, harmonic: HarmonicReference, settings: LambdaSettings,
                  rng: np.random.Generator, guard: BasinGuard | None,
                  progress: Callable[[int], None] | None = None) -> dict:
    """One independent λ-integration at ``md.temperature``.

    Args:
        md: a ``mode="lambda"`` :class:`CoupledMD` of the target and ``harmonic``.
        harmonic: U_H, with ``e0`` the target's static energy per atom at X0.
        rng: source of every random number of this repeat (draws and thermostat seeds).

    Returns:
        dict with ``F_com_fixed`` (F^{(3−3/N)}, eV/atom), ``sigma_block`` (its quadrature error
        from block averages), ``components`` (E0, F_harmonic, dF_anharmonic and per-node
        statistics), ``endpoint`` (see :func:`~phasetune.ti.temperature.sample_energy`, or None).
    """
    n = md.n_atoms
    nodes, weights = gauss_legendre(settings.n_nodes)
    eq, prod = settings.equilibration, settings.production
    endpoint = sample_energy(md, harmonic, eq, prod, rng, guard, progress) \
        if settings.endpoint else None
    node_stats = []
    for lam, w in sorted(zip(nodes, weights, strict=True), reverse=True):
        rec, quench = sample_segment(md, harmonic, float(lam), eq, prod, rng, guard, progress)
        s = summarize_series((rec[:, 1] - rec[:, 2]) / n)
        node_stats.append({"lambda": float(lam), "weight": float(w), **s.to_dict(),
                           "quench": quench})
    node_stats.reverse()
    means = np.array([s["mean"] for s in node_stats])
    errors = np.array([s["error"] for s in node_stats])
    w = np.array([s["weight"] for s in node_stats])
    d_anh = float(w @ means)
    f_h = float(harmonic.free_energy(md.temperature) - harmonic.E0)
    return {
        "F_com_fixed": harmonic.E0 + f_h + d_anh,
        "sigma_block": float(np.sqrt((w**2) @ errors**2)),
        "components": {"E0": harmonic.E0, "F_harmonic": f_h, "dF_anharmonic": d_anh,
                       "n_modes": harmonic.n_modes, "nodes": node_stats},
        "endpoint": endpoint,
        "equilibrated": bool(all(s["equilibrated"] for s in node_stats)
                             and (endpoint is None or endpoint["series"]["equilibrated"])),
    }
