"""Results of thermodynamic integration, with every component and all three conventions.

Bookkeeping (method.md §3, per atom, eV/atom).  COM-fixed TI measures F^{(3−3/N)} (n = 3N − 3
modes).  From it:

* F^{(3)} = F^{(3−3/N)} − [F_H(r = 3 − 3/N) − F_H(r = 3)], the harmonic conversion computed from
  the reference modes, F_H(r) = r k_BT⟨ln(ħΩ_l/k_BT)⟩;
* F_phys = F^{(3−3/N)} + f_trans, f_trans = −(k_BT/N) ln[(V_box/N_trans)/Λ_{Nm}³].

``F`` is the variant the selected :class:`~phasetune.conventions.Conventions` names ("3N" →
F^{(3)}, "3N-3" → F^{(3−3/N)}), the same bookkeeping as the D-DOS estimator's output.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..conventions import Conventions
from ..model import HarmonicReference
from ..model.harmonic import com_translation_free_energy, harmonic_free_energy
from .frenkel_ladd import linear_response_error


def convention_variants(f_com_fixed: float, temperature: float,
                        harmonic: HarmonicReference) -> dict[str, float]:
    """F^{(3)}, F^{(3−3/N)} and F_phys (eV/atom) from a COM-fixed F^{(3−3/N)}.

    Returns a dict with ``F_3N-3``, ``F_3N``, ``F_phys``, ``f_trans`` and ``harmonic_shift``
    (= F_H(r = n/N) − F_H(r = 3) = F^{(3−3/N)} − F^{(3)}).
    """
    omega, mass = harmonic.omega, harmonic.mass
    bulk = harmonic.modes_per_atom(Conventions(modes="3N"))
    shift = float(harmonic_free_energy(omega, mass, temperature, harmonic.modes_per_atom())
                  - harmonic_free_energy(omega, mass, temperature, bulk))
    f_trans = float(com_translation_free_energy(temperature, harmonic.n_atoms, mass,
                                                harmonic.volume_box, harmonic.n_trans))
    return {"F_3N-3": f_com_fixed, "F_3N": f_com_fixed - shift, "F_phys": f_com_fixed + f_trans,
            "f_trans": f_trans, "harmonic_shift": shift}


def selected_key(conventions: Conventions) -> str:
    """The variant key reported as ``F`` for these conventions."""
    return "F_3N" if conventions.modes == "3N" else "F_3N-3"


@dataclass
class RepeatRecord:
    """One independent repeat at one temperature (what the checkpoint stores).

    Attributes:
        temperature: K.
        repeat: index k of the repeat.
        method: ``lambda``, ``frenkel-ladd`` or ``energy`` (λ = 1 sampling only).
        F_com_fixed: F^{(3−3/N)} of this repeat, eV/atom (NaN for ``energy``).
        sigma_block: its within-run error from block averages, eV/atom (NaN if none).
        components: route-specific parts (E0, F_harmonic, dF_anharmonic, nodes | κ, works, …).
        endpoint: λ = 1 sampling (U, D, …) or None.
        equilibrated: every segment passed the equilibration check.
        diagnostics: basin guard figures.
        seed: the seed-sequence entropy of this repeat.
        cpu_seconds: process CPU time of the repeat, s.
        n_steps: MD steps run.
    """

    temperature: float
    repeat: int
    method: str
    F_com_fixed: float
    sigma_block: float
    components: dict
    endpoint: dict | None
    equilibrated: bool
    diagnostics: dict
    seed: list[int]
    cpu_seconds: float
    n_steps: int

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RepeatRecord:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def mean_error(values: np.ndarray) -> float:
    """Standard error of the mean of repeat values (NaN for one value)."""
    return float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 \
        else float("nan")


def block_error(repeats: list[RepeatRecord]) -> float:
    """(Σ_k σ_k²)^{1/2}/K from the repeats' within-run block errors, eV/atom."""
    s = np.array([r.sigma_block for r in repeats], dtype=float)
    return float(np.sqrt(np.sum(s**2)) / len(repeats))


def larger_finite(*sigmas: float) -> float:
    """The largest finite standard error (NaN when none is finite)."""
    finite = [s for s in sigmas if np.isfinite(s)]
    return float(max(finite)) if finite else float("nan")


def equilibration_warnings(point) -> list[str]:  # noqa: ANN001 - any point with .repeats
    """The warning of a temperature point some of whose repeats failed the equilibration check
    (none when all passed)."""
    if all(r.equilibrated for r in point.repeats):
        return []
    return [f"T = {point.temperature:g} K: some segments failed the equilibration check "
            "(drift or late equilibration); consider more --steps"]


class RepeatMeans:
    """Mean of the repeats' F_com_fixed and its spread, for a point holding ``repeats``."""

    @property
    def values(self) -> np.ndarray:
        return np.array([r.F_com_fixed for r in self.repeats])

    @property
    def F_com_fixed(self) -> float:
        return float(np.mean(self.values))

    @property
    def sigma_repeats(self) -> float:
        return mean_error(self.values)


class PointColumns:
    """Per-temperature columns of a result holding ``points`` (one per temperature)."""

    @property
    def temperatures(self) -> np.ndarray:
        """(n_T,) K."""
        return np.array([p.temperature for p in self.points])

    @property
    def sigma(self) -> np.ndarray:
        """(n_T,) standard errors, eV/atom."""
        return np.array([p.sigma for p in self.points])


@dataclass
class TemperaturePoint(RepeatMeans):
    """Combined repeats at one temperature (eV/atom throughout).

    ``sigma_repeats`` is the standard error of the mean over independent repeats (≥ 2 repeats);
    ``sigma_block`` the within-run estimate: (Σσ_k²)^{1/2}/K from block-averaged node errors
    (route A), or (k_BT|Q̄|/N/K)^{1/2} from the mean dissipation Q̄ (route B, linear
    response).  The reported ``sigma`` is the larger of the two that exist: with few repeats the
    spread alone is itself uncertain (one degree of freedom for two repeats).  Route B with ≥ 3
    repeats reports the spread alone: its linear-response estimate was found up to 3× too
    large (54-atom Mo at 1500 K: 0.88 vs 0.28 meV/atom).
    """

    temperature: float
    method: str
    repeats: list[RepeatRecord]
    conventions: Conventions
    harmonic: HarmonicReference = field(repr=False)

    @property
    def sigma_block(self) -> float:
        if self.method == "frenkel-ladd":  # linear response from the mean dissipation
            q = float(np.mean([r.components["dissipation"] for r in self.repeats]))
            return linear_response_error(self.temperature, q, self.harmonic.n_atoms) \
                / np.sqrt(len(self.repeats))
        return block_error(self.repeats)

    @property
    def sigma(self) -> float:
        if self.method == "frenkel-ladd" and len(self.repeats) >= 3:
            return self.sigma_repeats  # the linear-response estimate can be several times high
        return larger_finite(self.sigma_repeats, self.sigma_block)

    @property
    def variants(self) -> dict[str, float]:
        return convention_variants(self.F_com_fixed, self.temperature, self.harmonic)

    @property
    def F(self) -> float:
        return self.variants[selected_key(self.conventions)]

    @property
    def endpoint(self) -> dict | None:
        """Repeat-averaged λ = 1 figures (U, U_anharmonic, E, D) with standard errors."""
        ends = [r.endpoint for r in self.repeats if r.endpoint]
        if not ends:
            return None
        out: dict = {}
        for key in ("U", "U_anharmonic", "E", "du", "D"):
            if key in ends[0]:
                v = np.array([e[key] for e in ends], dtype=float)
                out[key] = v.mean(axis=0).tolist() if v.ndim > 1 else float(v.mean())
                if len(ends) > 1:
                    err = np.std(v, axis=0, ddof=1) / np.sqrt(len(ends))
                else:
                    err = np.array(ends[0].get(f"{key}_error", np.nan))
                out[f"{key}_error"] = err.tolist() if np.ndim(err) else float(err)
        return out

    def component_means(self) -> dict[str, float]:
        """Repeat means of the scalar components (dF_anharmonic, W, dissipation, …)."""
        keys = [k for k, v in self.repeats[0].components.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool)]
        return {k: float(np.mean([r.components[k] for r in self.repeats])) for k in keys}

    def to_dict(self) -> dict:
        variants = self.variants
        return {
            "T": self.temperature, "method": self.method,
            "F": self.F, "sigma": self.sigma, "sigma_repeats": self.sigma_repeats,
            "sigma_block": self.sigma_block, "n_repeats": len(self.repeats),
            **variants, "components": self.component_means(), "endpoint": self.endpoint,
            "equilibrated": all(r.equilibrated for r in self.repeats),
            "cpu_seconds": float(sum(r.cpu_seconds for r in self.repeats)),
            "repeats": [r.to_dict() for r in self.repeats],
        }


@dataclass
class TIResult(PointColumns):
    """Thermodynamic integration of one crystal at one volume over temperatures.

    Attributes:
        structure: description (prototype, element, N, volume).
        potential: the target's description (name, commands, sha256).
        method: ``lambda`` or ``frenkel-ladd``.
        conventions: which variant ``F`` reports.
        harmonic: the harmonic reference (sites, modes, target E0).
        points: one :class:`TemperaturePoint` per temperature, in the given order.
        settings: every MD and route setting.
        gibbs_helmholtz: cross-check rows (F from the first temperature integrated by
            Gibbs–Helmholtz vs F from TI), when λ = 1 energies exist at ≥ 2 temperatures.
        warnings: non-fatal problems (equilibration flags, …).
    """

    structure: str
    potential: dict
    method: str
    conventions: Conventions
    harmonic: HarmonicReference = field(repr=False)
    points: list[TemperaturePoint]
    settings: dict
    gibbs_helmholtz: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def F(self) -> np.ndarray:
        """(n_T,) F per atom in the selected convention, eV/atom."""
        return np.array([p.F for p in self.points])

    def variant(self, key: str) -> np.ndarray:
        """(n_T,) one of ``F_3N``, ``F_3N-3``, ``F_phys``, ``f_trans``, ``harmonic_shift``."""
        return np.array([p.variants[key] for p in self.points])

    def to_dict(self) -> dict:
        h = self.harmonic
        return {
            "structure": self.structure, "potential": self.potential, "method": self.method,
            "convention": self.conventions.as_dict(), "reported_F": selected_key(self.conventions),
            "n_atoms": h.n_atoms, "n_trans": h.n_trans, "mass": h.mass,
            "volume_per_atom": h.volume_box / h.n_atoms, "volume_box": h.volume_box,
            "E0": h.E0, "n_modes": h.n_modes, "omega_bar": float(np.mean(h.omega)),
            "kappa_default": h.einstein_constant(), "settings": self.settings,
            "units": {"F": "eV/atom", "T": "K", "volume": "Å³", "omega": "eV/Å²",
                      "kappa": "eV/Å²", "cpu_seconds": "s"},
            "temperatures": [p.to_dict() for p in self.points],
            "gibbs_helmholtz": self.gibbs_helmholtz, "warnings": self.warnings,
            "cpu_seconds": float(sum(p.to_dict()["cpu_seconds"] for p in self.points)),
        }


@dataclass
class CurveResult:
    """F(T) from one TI anchor and Gibbs–Helmholtz integration of λ = 1 energies.

    Attributes:
        anchor: the TI point at the anchor temperature.
        temperatures: (n_T,) K, increasing.
        F_com_fixed: (n_T,) F^{(3−3/N)}, eV/atom.
        sigma: (n_T,) standard errors, eV/atom.
        energy: the λ = 1 sampling points (method ``energy``), one per temperature.
    """

    structure: str
    potential: dict
    method: str
    conventions: Conventions
    harmonic: HarmonicReference = field(repr=False)
    anchor: TemperaturePoint
    temperatures: np.ndarray
    F_com_fixed: np.ndarray
    sigma: np.ndarray
    energy: list[TemperaturePoint]
    warnings: list[str] = field(default_factory=list)

    def variant(self, key: str) -> np.ndarray:
        """(n_T,) ``F_3N``, ``F_3N-3``, ``F_phys``, ``f_trans`` or ``harmonic_shift``."""
        return np.array([convention_variants(f, t, self.harmonic)[key]
                         for f, t in zip(self.F_com_fixed, self.temperatures, strict=True)])

    @property
    def F(self) -> np.ndarray:
        """(n_T,) F in the selected convention, eV/atom."""
        return self.variant(selected_key(self.conventions))

    def to_dict(self) -> dict:
        rows = []
        for i, (t, p) in enumerate(zip(self.temperatures, self.energy, strict=True)):
            variants = convention_variants(float(self.F_com_fixed[i]), float(t), self.harmonic)
            rows.append({"T": float(t), "F": variants[selected_key(self.conventions)],
                         "sigma": float(self.sigma[i]), **variants, "endpoint": p.endpoint,
                         "cpu_seconds": float(sum(r.cpu_seconds for r in p.repeats))})
        return {"structure": self.structure, "potential": self.potential,
                "method": f"{self.method} anchor + Gibbs–Helmholtz",
                "convention": self.conventions.as_dict(),
                "reported_F": selected_key(self.conventions), "n_atoms": self.harmonic.n_atoms,
                "n_trans": self.harmonic.n_trans, "E0": self.harmonic.E0,
                "anchor": self.anchor.to_dict(), "temperatures": rows,
                "warnings": self.warnings,
                "units": {"F": "eV/atom", "T": "K", "cpu_seconds": "s"}}
