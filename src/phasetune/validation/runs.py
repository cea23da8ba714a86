"""The TI side of a validation: λ-integration at θ0 and θ-integration to perturbed θ, on exactly
the cell, lattice and Hessian of a D-DOS campaign, resumable through checkpoint files.

For each (phase, T): F_TI(θ0) by λ-integration from the campaign's harmonic reference
(:func:`~phasetune.ti.thermodynamic_integration`), then F_TI(θ_m) = F_TI(θ0) + ΔF_m with ΔF_m
from :func:`~phasetune.ti.theta_path.theta_path`.  All values are per atom in the COM-fixed
convention F^{(3−3/N)} (method.md §3, §9), the one the estimator reports with modes "3N-3".
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..archive.hdf5 import read_archive
from ..conventions import Conventions
from ..errors import PhasetuneError
from ..jsonutil import to_jsonable
from ..potentials.linear import LinearPotential
from ..structures.crystals import reference_atoms
from ..ti import thermodynamic_integration
from ..ti.api import round_up
from ..ti.md import MDSettings
from ..ti.theta_path import ThetaPathSettings, theta_path

TI_SEED = 2026


def perturbed_thetas(potential: LinearPotential, n: int, scale: float = 0.02,
                     seed: int = 0) -> np.ndarray:
    """θ0 plus ``n`` random perturbations, (1 + n, N_D): θ_m = θ0 + scale·|θ0|∘ξ, ξ ~ N(0, 1)
    per bispectrum component; fixed components stay as they are.  Row 0 is θ0."""
    if n < 0 or scale < 0:
        raise PhasetuneError("the number and scale of perturbed θ must be non-negative")
    theta0 = potential.theta
    xi = np.random.default_rng(np.random.SeedSequence([seed, n])).standard_normal(
        (n, theta0.size))
    thetas = theta0 + scale * np.abs(theta0) * xi
    thetas[:, potential.spec.fixed_mask] = theta0[potential.spec.fixed_mask]
    return np.vstack([theta0, thetas])


@dataclass(frozen=True)
class TISettings:
    """How hard the TI side works: repeats and steps of both routes (None: library defaults)."""

    repeats: int = 2
    lambda_steps: int | None = None
    theta_steps: int = 4000

    def to_dict(self) -> dict:
        return {"repeats": self.repeats, "lambda_steps": self.lambda_steps,
                "theta_steps": self.theta_steps}


THETA_MATCH = 1e-10
"""Relative tolerance under which cached TI serves a θ: a θ recomputed with other rounding
(e.g. a re-run of the tuning) reuses its finished TI."""


def _cached(out: Path, stem: str, thetas: np.ndarray, settings: TISettings) -> dict | None:
    """A finished TI result of (phase, T) ``stem`` for these θ (to THETA_MATCH) and settings."""
    for path in sorted(out.glob(f"{stem}_*.json")):
        if path.name.endswith(".ckpt.json"):
            continue
        cached = json.loads(path.read_text())
        old = np.asarray(cached.get("thetas", []), dtype=float)
        if old.shape == thetas.shape and cached.get("settings") == settings.to_dict() and \
                np.allclose(old, thetas, rtol=THETA_MATCH, atol=0.0):
            return cached
    return None


def ti_for_phase(archive: str | Path, phase: str, potential: LinearPotential,
                 temperature: float, thetas: np.ndarray, out: Path,
                 settings: TISettings | None = None, progress: bool = True,
                 run: bool = True) -> dict | None:
    """TI of one (phase, T) for θ0 = ``thetas[0]`` and the rest; cached as JSON in ``out``.

    Returns a dict with ``F`` and ``sigma`` (n_models,) eV/atom (F^{(3−3/N)}), the λ result,
    the θ-path result and the CPU seconds of each route; None when ``run`` is False and the
    result is not cached yet.  A cached result for θ equal to these within a relative 10⁻¹⁰
    (and the same settings) is reused.
    """
    settings = settings or TISettings()
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{Path(archive).stem}_{phase}_{temperature:g}K"
    models = hashlib.sha256(np.ascontiguousarray(thetas, dtype=float).tobytes()).hexdigest()[:8]
    done = out / f"{stem}_{models}.json"
    cached = _cached(out, stem, thetas, settings)
    if cached is not None:
        return cached
    if not run:
        return None
    pv = read_archive(archive).get(phase)
    element = potential.elements[0]
    atoms = reference_atoms(pv.reference, element)
    theta0 = thetas[0]
    base = potential.with_theta(theta0, name=potential.name) \
        if not np.array_equal(theta0, potential.theta) else potential
    lam = thermodynamic_integration(
        atoms, base, [temperature], method="lambda", repeats=settings.repeats,
        conventions=Conventions(modes="3N-3"), steps=settings.lambda_steps, seed=TI_SEED,
        checkpoint=out / f"{stem}_lambda.ckpt.json", progress=progress,
        reference=pv.reference)
    f0, s0 = float(lam.F[0]), float(lam.sigma[0])
    stride = MDSettings().stride
    result = {"phase": phase, "T": float(temperature), "n_atoms": len(atoms),
              "thetas": thetas.tolist(), "settings": settings.to_dict(),
              "lambda": lam.to_dict(), "cpu_lambda": float(sum(
                  r.cpu_seconds for p in lam.points for r in p.repeats))}
    F, sigma = [f0], [s0]
    if len(thetas) > 1:
        path = theta_path(atoms, base, thetas[1:], [temperature], repeats=settings.repeats,
                          seed=TI_SEED, checkpoint=str(out / f"{stem}_{models}_theta.ckpt.json"),
                          progress=progress, reference=pv.reference,
                          settings=ThetaPathSettings(round_up(settings.theta_steps // 4, stride),
                                                     round_up(settings.theta_steps, stride)))
        F += list(f0 + path.delta_F[0])
        sigma += list(np.hypot(s0, path.sigma[0]))
        result.update(theta_path=path.to_dict(), cpu_theta=float(path.cpu_seconds.sum()))
    result.update(F=F, sigma=sigma)
    done.write_text(json.dumps(to_jsonable(result), indent=1))
    return result
