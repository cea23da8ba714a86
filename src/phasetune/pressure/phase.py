"""One phase sampled at several volumes: G(θ, P, T) for many models at once, and its isobars as
estimator-like objects for the fixed-pressure ΔG, T_c(P) and ensembles of :mod:`phasetune.phases`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np

from ..constants import KB
from ..errors import PhasetuneError
from ..estimator.ddos import DDOSEstimator
from ..model.harmonic import com_translation_free_energy, harmonic_free_energy
from .gibbs import AtPressure, GibbsPrediction, gibbs
from .surface import VolumeBasis

HEAT_CAPACITY_STEP = 1e-3
"""Relative temperature step of the central difference ∂s/∂T behind C_V."""


def _same_descriptors(name: str, estimators: Sequence[DDOSEstimator]) -> None:
    """Refuse volumes of one phase sampled with different descriptors, cells or conventions."""
    first = estimators[0]
    info0 = first.phase_volume.descriptors
    for est in estimators[1:]:
        info = est.phase_volume.descriptors
        where = (f"phase {name!r}: volumes {first.reference.volume:g} and "
                 f"{est.reference.volume:g} Å³/atom")
        if (info.labels != info0.labels or info.params != info0.params
                or not np.array_equal(info.fixed, info0.fixed)):
            raise PhasetuneError(f"{where} were sampled with different descriptors",
                                 "sample every volume of a phase with one descriptor spec")
        if est.reference.n_atoms != first.reference.n_atoms:
            raise PhasetuneError(f"{where} have different cells ({first.reference.n_atoms} and "
                                 f"{est.reference.n_atoms} atoms)",
                                 "sample every volume of a phase with the same supercell")
        if est.conventions != first.conventions:
            raise PhasetuneError(f"{where} use different conventions")


class PressurePhase:
    """G(θ, P, T) of one phase from its per-volume D-DOS estimators.

    Args:
        name: phase name.
        estimators: one estimator per sampled volume (any order; at least two).
        degree: degree of the F(V) polynomial in (V/V_c)^(−2/3) (default
            min(3, max(2, n_V − 2)), at most n_V − 1).
        limit: add the terms that make G per atom the best estimate of its thermodynamic limit
            (:meth:`limit_terms`, method.md §8 "Melting"), needed to compare a liquid with a
            crystal, or cells of different N.  Off by default.
    """

    def __init__(self, name: str, estimators: Sequence[DDOSEstimator],
                 degree: int | None = None, limit: bool = False):
        if len(estimators) < 2:
            volumes = [f"{e.reference.volume:g}" for e in estimators]
            raise PhasetuneError(
                f"phase {name!r} was sampled at a single volume ({', '.join(volumes)} Å³/atom): "
                "pressure needs a free-energy surface in V",
                "sample the phase at several volumes (campaign 'volumes:', e.g. "
                "{around: equilibrium, span: [-4 %, +6 %], count: 7}) or drop -P")
        _same_descriptors(name, estimators)
        order = np.argsort([e.reference.volume for e in estimators])
        self.name = name
        self.estimators = [estimators[i] for i in order]
        self.basis = VolumeBasis.from_volumes([e.reference.volume for e in self.estimators],
                                              degree)
        first = self.estimators[0]
        self.n_components = first.n_components
        self.fixed = first.fixed
        self.conventions = first.conventions
        self.phase_volume = first.phase_volume
        self.reference = self.estimators[len(self.estimators) // 2].reference
        """The middle sampled volume's reference (e.g. for training frames)."""
        self.limit = bool(limit)

    def thermodynamic_limit(self) -> PressurePhase:
        """This phase with the thermodynamic-limit terms in G (``limit=True``)."""
        out = copy.copy(self)
        out.limit = True
        return out

    def limit_terms(self, temperatures: np.ndarray, volume: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
        """(δf, δs) per atom at V* (…, n_T, n_models) Å³/atom, eV/atom and eV/K/atom, that
        turn this cell's G per atom into the estimate of its N → ∞ limit (method.md §8):

        * a liquid (F^(3N−3) = F_phys − f_trans(V_box, N)): + f_trans(V_box, N) − (k_BT/2N)
          ln(2πN), i.e. its physical F with ln N! in Stirling's form (the ideal gas per atom);
        * a crystal in a convention of r modes per atom: + F_H^(3) − F_H^(r) (the 3N
          convention, bulk-like: no missing modes, no free COM), nothing when r = 3.
        """
        ref = self.reference
        t = np.asarray(temperatures, dtype=float)[:, None]
        if self.phase_volume.liquid:
            n = ref.n_atoms
            f = com_translation_free_energy(t, n, ref.mass, volume * n, n) \
                - KB * t / (2.0 * n) * np.log(2.0 * np.pi * n)
            return f, -f / t + 1.5 * KB / n
        modes = getattr(self.conventions, "modes", None) or dict(self.conventions).get("modes")
        if modes == "3N":
            return np.zeros_like(volume), np.zeros_like(volume)
        r = ref.modes_per_atom(self.conventions)
        f = (harmonic_free_energy(ref.omega, ref.mass, t, 3.0)
             - harmonic_free_energy(ref.omega, ref.mass, t, r)) + np.zeros_like(volume)
        return f, -f / t + (3.0 - r) * KB

    def conventions_dict(self) -> dict:
        return self.estimators[0].conventions_dict()

    @property
    def volumes(self) -> np.ndarray:
        """Sampled volumes per atom, increasing, Å³/atom."""
        return self.basis.volumes

    def check_theta(self, theta) -> np.ndarray:
        return self.estimators[0].check_theta(theta)

    def predict(self, theta, temperatures, pressures, *, gradient: bool = False,
                heat_capacity: bool = False, beta0: float | np.ndarray | None = None,
                route: str | None = None) -> GibbsPrediction:
        """G(θ, P, T) per atom for every model, temperature and pressure.

        Args:
            theta: (n_models, N_D) or (N_D,) coefficients.
            temperatures: (n_T,) K.
            pressures: (n_P,) eV/Å³ (GPa × :data:`~phasetune.constants.GPA_TO_EV_PER_A3`).
            gradient: also return ∂G/∂θ (n_P, n_T, n_models, N_D).
            heat_capacity: also C_P (∂s/∂T at each volume by central differences at
                T(1 ± 10⁻³): three times the prediction cost); NaN otherwise.
            beta0: the potential's constant, eV/atom (default: each reference's β0).
            route: per-volume estimator route (default each estimator's).

        Returns:
            :class:`~phasetune.pressure.gibbs.GibbsPrediction`.
        """
        preds = [e.predict(theta, temperatures, gradient=gradient, beta0=beta0, route=route)
                 for e in self.estimators]
        slope = None
        if heat_capacity:
            t = np.asarray(preds[0].temperatures)
            h = HEAT_CAPACITY_STEP * t
            slope = []
            for e in self.estimators:
                up, down = (e.predict(theta, t + sign * h, beta0=beta0, route=route).entropy
                            for sign in (1.0, -1.0))
                slope.append((up - down) / (2.0 * h[:, None]))
        result = gibbs(self.volumes, preds, pressures, degree=self.basis.degree,
                       conventions=preds[0].conventions, entropy_slope=slope)
        if self.limit:
            f, s = self.limit_terms(result.temperatures, result.volume)
            result.G = result.G + f
            result.entropy = result.entropy + s
            result.enthalpy = result.enthalpy + f + result.temperatures[:, None] * s
            result.conventions = {**result.conventions, "per_atom": "thermodynamic-limit estimate"}
        return result

    def isobar(self, pressure: float) -> Isobar:
        """This phase at one pressure (eV/Å³), with a fixed-volume estimator's ``predict``."""
        return Isobar(self, pressure)


class Isobar:
    """A :class:`PressurePhase` at fixed pressure, usable wherever :mod:`phasetune.phases` takes a
    DDOSEstimator: ``predict(θ, T)`` returns G as ``F_total``, S as ``entropy``, ∂G/∂θ as
    ``D_star`` (arrays (n_T, n_models))."""

    def __init__(self, phase: PressurePhase, pressure: float):
        self.phase, self.pressure = phase, float(pressure)
        self.name = phase.name
        self.n_components = phase.n_components
        self.fixed = phase.fixed
        self.conventions = phase.conventions
        self.phase_volume = phase.phase_volume

    def check_theta(self, theta) -> np.ndarray:
        return self.phase.check_theta(theta)

    def predict(self, theta, temperatures, *, gradient: bool = False,
                beta0: float | np.ndarray | None = None, route: str | None = None
                ) -> AtPressure:
        return self.phase.predict(theta, temperatures, [self.pressure], gradient=gradient,
                                  beta0=beta0, route=route).at(0)
