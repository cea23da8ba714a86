"""F(θ, T) of a non-linear potential from a tangent archive (method.md §2.5):

    F(θ, T) = F_lin(θ, T) + c(θ)

F_lin is the D-DOS free energy of the model linearised at θ0 (the archive's descriptors
D_tan = (J_free, r), coefficients θ_tan = (θ_free, 1) and constant β0_tan(θ)); c is the curvature
correction from MD frames of θ0 (:mod:`.curvature`), applied at the frames' temperature.  The
gradient is exact for the linearised model, ∂F_lin/∂θ = ⟨J⟩_{θ,T} (free parameters) and J_c
(constant ones), plus ∂c/∂θ where corrected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import EstimatorError
from ..estimator.ddos import DDOSEstimator
from ..nonlinear.tangent import TangentSpec, model_sha256
from .curvature import DEFAULT_TOLERANCE, Curvature, curvature

FRAME_T_TOL = 0.5
"""Frames correct a temperature within this many K of their own."""


def tangent_record(metadata: dict, where: str = "archive") -> dict:
    """The tangent section of an archive's descriptor metadata (θ0, constant parameters)."""
    record = (metadata.get("descriptor", {}).get("spec", {}) or {}).get("tangent")
    if not record:
        raise EstimatorError(f"{where} was not sampled with tangent descriptors",
                             "sample with descriptors.tangent: NN.mliap, or use `predict` for a "
                             "linear potential")
    return record


def spec_for(record: dict, potential, where: str = "archive") -> TangentSpec:
    """The archive's tangent spec, rebuilt with ``potential``'s model (same architecture, input
    scales and descriptors as the archive's; its θ may differ)."""
    from ..nonlinear.tangent import tangent_spec

    own = tangent_spec(potential)
    theta0 = np.asarray(record["theta0"], dtype=float)
    if theta0.shape != own.theta0.shape:
        raise EstimatorError(f"{potential.name} has {own.theta0.size} parameters, the {where} "
                             f"was expanded in {theta0.size}",
                             "use a potential of the archive's architecture")
    if model_sha256(potential, theta0) != record["model_sha256"]:
        raise EstimatorError(f"{potential.name}: architecture, input scales or descriptors differ "
                             f"from the {where}'s model", "use a potential written from the "
                             "archive's model (NNPotential.with_theta)")
    p = theta0.size
    constant = np.zeros(p, dtype=bool)
    constant[record["constant"]] = True
    values = np.zeros(p)
    values[record["constant"]] = record["constant_values"]
    return TangentSpec(base=own.base, model=own.model, theta0=theta0, constant=constant,
                       constant_values=values, name=record.get("name", potential.name),
                       model_sha256=record["model_sha256"], constant_r=record.get("constant_r"))


@dataclass
class TangentPrediction:
    """F of every model at every temperature, (n_T, M) arrays unless stated.

    Attributes:
        temperatures: (n_T,) K.
        F_lin: D-DOS free energy of the linearised model, eV/atom.
        F: F_lin + c where corrected, else F_lin, eV/atom.
        sigma_F: D-DOS σ combined with the correction's σ where corrected, eV/atom.
        corrected: (n_T,) bool, the temperatures the frames correct.
        curvature: the correction (None without frames).
        validated: (M,) bool, e(θ) ≤ tolerance (all False without frames: unknown).
        step: (M,) |θ − θ0| / |θ0|.
        solved: D-DOS solved flags.
        gradient: (n_T, M, P) ∂F/∂θ, or None.
    """

    temperatures: np.ndarray
    F_lin: np.ndarray
    F: np.ndarray
    sigma_F: np.ndarray
    corrected: np.ndarray
    curvature: Curvature | None
    validated: np.ndarray
    step: np.ndarray
    solved: np.ndarray
    gradient: np.ndarray | None = None

    def to_dict(self) -> dict:
        cur = self.curvature
        return {"temperatures": self.temperatures.tolist(), "F_lin": self.F_lin.tolist(),
                "F": self.F.tolist(), "sigma_F": self.sigma_F.tolist(),
                "corrected": self.corrected.tolist(), "validated": self.validated.tolist(),
                "step": self.step.tolist(), "solved": self.solved.tolist(),
                "curvature": None if cur is None else {
                    "correction": cur.correction.tolist(), "sigma": cur.sigma.tolist(),
                    "error": cur.error.tolist(), "temperature": cur.temperature,
                    "n_frames": cur.n_frames}}


def predict_tangent(estimator: DDOSEstimator, spec: TangentSpec, thetas: np.ndarray,
                    temperatures, *, frames: tuple[np.ndarray, float] | None = None,
                    gradient: bool = False, tolerance: float = DEFAULT_TOLERANCE,
                    strict: bool = False) -> TangentPrediction:
    """F(θ, T) of models ``thetas`` (M, P) or (P,) at ``temperatures`` (K).

    Args:
        frames: (per-atom descriptors (F, N, K), their temperature K) of MD at θ0 for the
            curvature correction; None gives F_lin only.
        tolerance: e(θ) above which a step is outside the validated range, eV/atom.
        strict: raise :class:`EstimatorError` for a model outside the validated range instead
            of flagging it.
    """
    th = np.atleast_2d(np.asarray(thetas, dtype=float))
    if th.shape[1] != spec.theta0.size:
        raise EstimatorError(f"θ has {th.shape[1]} parameters, the tangent archive "
                             f"{spec.theta0.size}")
    temps = np.atleast_1d(np.asarray(temperatures, dtype=float))
    pred = estimator.predict(spec.linear_theta(th), temps, beta0=spec.beta0(th),
                             gradient=gradient)
    f_lin = pred.F_total
    f, sigma = f_lin.copy(), pred.sigma_F.copy()
    corrected = np.zeros(temps.size, dtype=bool)
    cur, validated = None, np.zeros(len(th), dtype=bool)
    if frames is not None:
        per_atom, t_frames = frames
        cur = curvature(spec, per_atom, t_frames, th, gradient=gradient)
        validated = cur.validated(tolerance)
        corrected = np.abs(temps - t_frames) <= FRAME_T_TOL
        f[corrected] += cur.correction
        sigma[corrected] = np.hypot(sigma[corrected], cur.sigma)
        if strict and not validated.all():
            m = int(np.flatnonzero(~validated)[0])
            raise EstimatorError(
                f"model {m}: the tangent step |δθ|/|θ0| = {_steps(spec, th)[m]:.3g} is outside "
                f"the validated range (curvature error {1e3 * cur.error[m]:.3g} meV/atom > "
                f"{1e3 * tolerance:.3g})", "use the reweighting route, or sample a tangent "
                "archive at a θ0 closer to this model")
    grad = None
    if gradient:
        grad = np.empty((temps.size, len(th), spec.theta0.size))
        n_free = int(spec.free.sum())
        grad[..., spec.free] = pred.D_star[..., :n_free]
        grad[..., spec.constant] = spec.constant_values[spec.constant]
        if cur is not None:
            grad[corrected] += cur.gradient
    return TangentPrediction(temps, f_lin, f, sigma, corrected, cur, validated,
                             _steps(spec, th), pred.solved, grad)


def _steps(spec: TangentSpec, th: np.ndarray) -> np.ndarray:
    return np.linalg.norm(th - spec.theta0, axis=1) / np.linalg.norm(spec.theta0)
