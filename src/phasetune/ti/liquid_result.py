"""Results of liquid thermodynamic integration (eV/atom throughout).

Two variants per temperature:

* ``F_phys`` — the physical Helmholtz free energy per atom of the classical liquid (free centre
  of mass, indistinguishable atoms);
* ``F_3N-3`` = F_phys − f_trans(V_box, N_trans = N), f_trans = −(k_BT/N) ln[(V_box/N)/Λ_{Nm}³]:
  the bookkeeping of a one-atom-basis crystal of the same N with its COM fixed, so that
  F_3N-3(liquid) − F_3N-3(bcc) = ΔF_phys + (k_BT/N) ln(V_s/V_l).  ``F`` reports this one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .result import (
    PointColumns,
    RepeatMeans,
    RepeatRecord,
    block_error,
    larger_finite,
    mean_error,
)

REPORTED = "F_3N-3"
"""The variant ``F`` reports."""


def _mean_of(records: list[RepeatRecord], get) -> tuple[float, float]:  # noqa: ANN001
    """Repeat mean of a scalar and its standard error (NaN for one repeat)."""
    v = np.array([get(r) for r in records], dtype=float)
    return float(v.mean()), mean_error(v)


def _node_means(per_repeat: list[list[dict]]) -> list[dict]:
    """Per node: λ, weight, the repeat mean of the integrand (eV/atom), its block error
    (Σσ²)^{1/2}/K, the spread of the repeats / √K, and the mean variance and slope."""
    out = []
    for nodes in zip(*per_repeat, strict=True):
        means = np.array([s["mean"] for s in nodes])
        out.append({"lambda": nodes[0]["lambda"], "weight": nodes[0]["weight"],
                    "mean": float(means.mean()),
                    "error": float(np.sqrt(sum(s["error"] ** 2 for s in nodes)) / len(nodes)),
                    "error_repeats": mean_error(means),
                    "variance": float(np.mean([s["variance"] for s in nodes])),
                    "slope": float(np.mean([s["slope"] for s in nodes])),
                    "equilibrated": all(s["equilibrated"] for s in nodes)})
    return out


@dataclass
class LiquidPoint(RepeatMeans):
    """Combined repeats at one temperature.

    ``sigma`` is the larger of ``sigma_repeats`` (spread of the repeat values / √K) and
    ``sigma_block`` ((Σ_k σ_k²)^{1/2}/K from each repeat's block errors of both integrals), as
    for crystals (:class:`~phasetune.ti.result.TemperaturePoint`).
    """

    temperature: float
    repeats: list[RepeatRecord]

    @property
    def F_phys(self) -> float:
        return float(np.mean([r.components["F_phys"] for r in self.repeats]))

    @property
    def f_trans(self) -> float:
        return float(self.repeats[0].components["f_trans"])

    @property
    def sigma_block(self) -> float:
        return block_error(self.repeats)

    @property
    def sigma(self) -> float:
        return larger_finite(self.sigma_repeats, self.sigma_block)

    def components(self) -> dict:
        """Repeat means of the scalar components, the repeat spread of the two legs, and the
        per-node integrands combined over repeats (``nodes``: ⟨U_θ − U_UF⟩_λ/N, ``uf_nodes``:
        ⟨U_UF⟩_λ′/N, eV/atom)."""
        first = self.repeats[0].components
        keys = [k for k, v in first.items() if isinstance(v, (int, float))
                and not isinstance(v, bool)]
        out = {k: float(np.mean([r.components[k] for r in self.repeats])) for k in keys}
        for key in ("F_ex_UF", "dF_switch"):
            out[f"sigma_repeats_{key}"] = _mean_of(self.repeats,
                                                   lambda r, k=key: r.components[k])[1]
        out["nodes"] = _node_means([r.components["nodes"] for r in self.repeats])
        out["uf_nodes"] = _node_means([r.components["uf_nodes"] for r in self.repeats])
        return out

    def endpoint(self) -> dict:
        """Repeat means of the physical-liquid figures (U, E, P, D, du) with standard errors."""
        out: dict = {}
        ends = [r.endpoint for r in self.repeats]
        for key in ("U", "E", "P", "P_GPa", "P_com_fixed", "du", "D"):
            vals = [e[key] for e in ends if e.get(key) is not None]
            if not vals:
                continue
            v = np.array(vals, dtype=float)
            out[key] = float(v.mean())
            own = ends[0].get(f"{key}_error")
            out[f"{key}_error"] = mean_error(v) if len(v) > 1 else \
                (float(own) if own is not None else float("nan"))
        return out

    def liquid_check(self) -> dict:
        """Worst case over the repeats' judged segments (see
        :meth:`~phasetune.ti.liquid_checks.LiquidGuard.summary`)."""
        summaries = [r.diagnostics.get("liquid", {}) for r in self.repeats]
        summaries = [s for s in summaries if s]
        if not summaries:
            return {}
        ds = [s["min_diffusion"] for s in summaries if s.get("min_diffusion") is not None]
        return {"all_liquid": all(s["all_liquid"] for s in summaries),
                "segments": int(sum(s["segments"] for s in summaries)),
                "min_diffusion": min(ds) if ds else None,
                "max_solid_fraction": max(s["max_solid_fraction"] for s in summaries),
                "max_sk": max(s["max_sk"] for s in summaries),
                "max_bragg_order": max(s["max_bragg_order"] for s in summaries),
                "units": {"diffusion": "Å²/ps"}}

    def to_dict(self) -> dict:
        return {
            "T": self.temperature, "F": self.F_com_fixed, "sigma": self.sigma,
            "sigma_repeats": self.sigma_repeats, "sigma_block": self.sigma_block,
            "n_repeats": len(self.repeats), "F_3N-3": self.F_com_fixed, "F_phys": self.F_phys,
            "f_trans": self.f_trans, "components": self.components(),
            "endpoint": self.endpoint(), "liquid_check": self.liquid_check(),
            "equilibrated": all(r.equilibrated for r in self.repeats),
            "cpu_seconds": float(sum(r.cpu_seconds for r in self.repeats)),
            "n_steps": int(sum(r.n_steps for r in self.repeats)),
            "repeats": [r.to_dict() for r in self.repeats],
        }


@dataclass
class LiquidResult(PointColumns):
    """Liquid TI of one cell (N, V) over temperatures.

    Attributes:
        structure: description ("liquid Mo, 128 atoms, 18.5 Å³/atom (from bcc 4×4×4)").
        potential: the target's description (name, commands, sha256).
        n_atoms, mass (amu), volume_box (Å³).
        uf: the UF reference (p, σ, cutoff, b).
        points: one :class:`LiquidPoint` per temperature, in the given order.
        settings: MD, path, repeats, seed.
        warnings: non-fatal problems.
    """

    structure: str
    potential: dict
    n_atoms: int
    mass: float
    volume_box: float
    uf: dict
    points: list[LiquidPoint]
    settings: dict
    warnings: list[str] = field(default_factory=list)

    @property
    def F(self) -> np.ndarray:
        """(n_T,) F^(3N−3) per atom (COM-fixed convention), eV/atom."""
        return np.array([p.F_com_fixed for p in self.points])

    @property
    def F_phys(self) -> np.ndarray:
        """(n_T,) physical F per atom, eV/atom."""
        return np.array([p.F_phys for p in self.points])

    def variant(self, key: str) -> np.ndarray:
        """(n_T,) ``F_3N-3``, ``F_phys`` or ``f_trans``."""
        get = {"F_3N-3": lambda p: p.F_com_fixed, "F_phys": lambda p: p.F_phys,
               "f_trans": lambda p: p.f_trans}[key]
        return np.array([get(p) for p in self.points])

    def to_dict(self) -> dict:
        points = [p.to_dict() for p in self.points]
        return {
            "structure": self.structure, "potential": self.potential,
            "method": "liquid: λ-switch to an Uhlenbeck–Ford reference anchored on the ideal gas",
            "phase": "liquid", "reported_F": REPORTED,
            "convention": {"statistics": "classical", "per_atom": True,
                           "F_3N-3": "F_phys − f_trans(V_box, N_trans = N)",
                           "F_phys": "free centre of mass, indistinguishable atoms (1/N!)"},
            "n_atoms": self.n_atoms, "n_trans": self.n_atoms, "mass": self.mass,
            "volume_box": self.volume_box, "volume_per_atom": self.volume_box / self.n_atoms,
            "uf": self.uf, "settings": self.settings,
            "units": {"F": "eV/atom", "T": "K", "volume": "Å³", "P": "eV/Å³",
                      "P_GPa": "GPa", "D": "Å²/ps", "cpu_seconds": "s"},
            "temperatures": points, "warnings": self.warnings,
            "cpu_seconds": float(sum(p["cpu_seconds"] for p in points)),
        }
