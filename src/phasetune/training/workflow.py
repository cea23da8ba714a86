"""The posterior workflow behind ``phasetune posterior``: θ posterior from a training set →
T_c at the posterior mean → T_c over posterior draws → ΔF at one temperature (method.md §8).

Units: K, eV/atom.  The CLI only parses options and prints :class:`PosteriorTransition`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import PhasetuneError
from ..estimator.ddos import DDOSEstimator
from ..phases.ensembles import EnsembleTransition, ensemble_transition, linearised_variance
from ..phases.transitions import Transition, transitions
from ..potentials.linear import LinearPotential
from .dataset import training_frames
from .design import design_matrix
from .posterior import ThetaPosterior, fit_posterior


@dataclass
class PosteriorTransition:
    """A θ posterior and the transition it implies.

    Attributes:
        posterior: the Gaussian posterior of (β0, free θ).
        transition: T_c between ``low`` and ``high`` at the posterior mean.
        ensemble: T_c of each posterior draw.
        std_linearised: √(∇T_cᵀ Σ_θ ∇T_c), K (NaN without a gradient).
        delta_F: ΔF(high − low) at one temperature over the draws (eV/atom), if asked.
    """

    low: str
    high: str
    method: str
    posterior: ThetaPosterior
    transition: Transition
    ensemble: EnsembleTransition
    std_linearised: float
    delta_F: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        payload = {"posterior": self.posterior.to_dict(),
                   "transition_at_mean": self.transition.to_dict(),
                   "T_c_sampled": self.ensemble.summary(),
                   "T_c_std_linearised": self.std_linearised,
                   "T_c_statistical_error": self.transition.sigma_Tc}
        if self.delta_F:
            payload["delta_F"] = self.delta_F
        return payload

    def save(self, path: str | Path) -> None:
        """Mean, covariance, β0 and the draws' T_c (and solved flags) as ``.npz``."""
        post = self.posterior
        np.savez(path, mean=post.mean, covariance=post.covariance, beta0=post.beta0,
                 T_c=self.ensemble.T_c, solved=self.ensemble.solved)


def _delta_f(pair: tuple[DDOSEstimator, DDOSEstimator], post: ThetaPosterior, draws: np.ndarray,
             temperature: float) -> dict:
    t_at = np.array([temperature])
    pl, ph = (e.predict(draws, t_at, beta0=post.beta0) for e in pair)
    ml, mh = (e.predict(post.mean, t_at, gradient=True, beta0=post.beta0) for e in pair)
    ok = pl.solved[0] & ph.solved[0]
    d_draws = (ph.F_total - pl.F_total)[0][ok]
    grad = mh.D_star[0, 0] - ml.D_star[0, 0]
    return {"T": temperature, "at_mean_eV": float(mh.F_total[0, 0] - ml.F_total[0, 0]),
            "std_sampled_eV": float(d_draws.std(ddof=1)) if d_draws.size > 1 else None,
            "std_linearised_eV": float(np.sqrt(linearised_variance(grad, post.covariance))),
            "solved_fraction": float(ok.mean())}


def posterior_transition(estimators: dict[str, DDOSEstimator], potential: LinearPotential,
                         low: str, high: str, *, training: str | Path | None = None,
                         labeller: LinearPotential | None = None, n_generate: int = 6,
                         method: str = "evidence", t_range: tuple[float, float] = (300.0, 2000.0),
                         samples: int = 2000, at_temperature: float | None = None,
                         seed: int = 0) -> PosteriorTransition:
    """Bayesian linear regression of θ on energies and forces, and the T_c it implies, by
    sampling and by the linearised formula Var T_c ≈ ∇T_cᵀ Σ_θ ∇T_c.

    Args:
        estimators: D-DOS estimators by phase (``low`` and ``high`` among them).
        potential: the fitted potential (θ0 and β0 are the prior mean; its descriptors).
        training: extxyz with energies and forces (None: frames generated from the phases).
        labeller: potential labelling generated frames (default ``potential``).
        n_generate: frames per phase when generating.
        method: ``"evidence"`` or ``"ridge"``.
        t_range: temperatures searched for T_c, K.
        samples: posterior draws propagated to T_c.
        at_temperature: also propagate ΔF(high − low) at this temperature, K.
        seed: seed of the posterior draws.
    """
    for name in (low, high):
        if name not in estimators:
            raise PhasetuneError(f"phase {name!r} is not in the archives",
                                 f"phases: {', '.join(estimators)}")
    frames = training_frames(training, [e.reference for e in estimators.values()],
                             labeller or potential, potential.elements[0], n_generate)
    design = design_matrix(frames, potential.spec)
    prior = np.r_[potential.beta0(), potential.theta[design.free]]
    post = fit_posterior(design, prior_mean=prior, method=method)
    grid = np.linspace(*sorted(t_range), 60)
    pair = (estimators[low], estimators[high])
    (tr,) = transitions(*pair, post.mean, grid, (low, high), post.beta0)[:1]
    draws = post.sample(samples, seed=seed)
    ens = ensemble_transition(*pair, draws, grid)
    linear = float(np.sqrt(linearised_variance(tr.gradient, post.covariance))) \
        if tr.gradient is not None else float("nan")
    delta = _delta_f(pair, post, draws, at_temperature) if at_temperature is not None else {}
    return PosteriorTransition(low, high, method, post, tr, ens, linear, delta)
