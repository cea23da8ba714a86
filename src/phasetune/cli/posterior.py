"""``phasetune posterior``: Gaussian posterior of θ from a training set, propagated to T_c."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from ..conventions import Conventions
from ..errors import PhasetuneError
from .common import emit_json, handle_errors


@click.command("posterior")
@click.argument("archives", nargs=-1, required=True, type=click.Path(exists=True,
                                                                      dir_okay=False))
@click.option("--potential", required=True, help="The fitted potential (θ0, β0, descriptors).")
@click.option("--training", type=click.Path(exists=True, dir_okay=False), default=None,
              help="extxyz with energies and forces (default: generated from the potential).")
@click.option("--generate", "n_generate", type=int, default=6, show_default=True,
              help="Frames per phase when generating (random displacements and strains).")
@click.option("--labels", "label_potential", default=None,
              help="Potential that labels generated frames (default: --potential itself, "
              "which gives an exact, degenerate fit).")
@click.option("--at", "at_temperature", type=float, default=None,
              help="Also propagate ΔF(high − low) at this temperature, K.")
@click.option("--method", type=click.Choice(["evidence", "ridge"]), default="evidence",
              show_default=True)
@click.option("--low", required=True, help="Phase stable below T_c.")
@click.option("--high", required=True, help="Phase stable above T_c.")
@click.option("-T", "--temperatures", "t_range", type=float, nargs=2, default=(300.0, 2000.0),
              show_default=True, help="Range searched for T_c, K.")
@click.option("--samples", type=int, default=2000, show_default=True,
              help="Posterior draws propagated to T_c.")
@click.option("--route", type=click.Choice(["score", "cumulant"]), default="score",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Save mean, covariance and the draws' T_c (.npz).")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Histogram of T_c over the draws (PNG).")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def command(archives, potential, training, n_generate, label_potential, at_temperature, method,
            low, high, t_range, samples, route, output, plot, as_json) -> None:
    """Bayesian linear regression of θ on energies and forces; the T_c it implies, by sampling
    and by the linearised formula Var T_c ≈ ∇T_cᵀ Σ_θ ∇T_c."""
    from ..estimator.store import load_phase_estimators
    from ..phases.ensembles import ensemble_transition, linearised_variance
    from ..phases.transitions import transitions
    from ..potentials.registry import load_potential
    from ..training.dataset import training_frames
    from ..training.design import design_matrix
    from ..training.posterior import fit_posterior

    pot = load_potential(potential)
    estimators = load_phase_estimators([Path(a) for a in archives], Conventions(), 4, route)
    for name in (low, high):
        if name not in estimators:
            raise PhasetuneError(f"phase {name!r} is not in the archives",
                                 f"phases: {', '.join(estimators)}")
    labeller = load_potential(label_potential) if label_potential else pot
    frames = training_frames(training, [e.reference for e in estimators.values()], labeller,
                             pot.elements[0], n_generate)
    design = design_matrix(frames, pot.spec)
    prior = np.r_[pot.beta0(), pot.theta[design.free]]
    post = fit_posterior(design, prior_mean=prior, method=method)
    grid = np.linspace(*sorted(t_range), 60)
    pair = (estimators[low], estimators[high])
    (tr,) = transitions(*pair, post.mean, grid, (low, high), post.beta0)[:1]
    draws = post.sample(samples, seed=0)
    ens = ensemble_transition(*pair, draws, grid)
    linear = float(np.sqrt(linearised_variance(tr.gradient, post.covariance))) \
        if tr.gradient is not None else float("nan")
    payload = {"posterior": post.to_dict(), "transition_at_mean": tr.to_dict(),
               "T_c_sampled": ens.summary(), "T_c_std_linearised": linear,
               "T_c_statistical_error": tr.sigma_Tc}
    if at_temperature is not None:
        t_at = np.array([at_temperature])
        pl, ph = (e.predict(draws, t_at, beta0=post.beta0) for e in pair)
        ml, mh = (e.predict(post.mean, t_at, gradient=True, beta0=post.beta0) for e in pair)
        ok = pl.solved[0] & ph.solved[0]
        d_draws = (ph.F_total - pl.F_total)[0][ok]
        grad = mh.D_star[0, 0] - ml.D_star[0, 0]
        payload["delta_F"] = {
            "T": at_temperature, "at_mean_eV": float(mh.F_total[0, 0] - ml.F_total[0, 0]),
            "std_sampled_eV": float(d_draws.std(ddof=1)) if d_draws.size > 1 else None,
            "std_linearised_eV": float(np.sqrt(linearised_variance(grad, post.covariance))),
            "solved_fraction": float(ok.mean())}
    if output:
        np.savez(output, mean=post.mean, covariance=post.covariance, beta0=post.beta0,
                 T_c=ens.T_c, solved=ens.solved)
    if plot:
        from ..plots import _pyplot

        plt = _pyplot()
        fig, ax = plt.subplots(figsize=(5, 3.5), dpi=120)
        ax.hist(ens.T_c[ens.solved], bins=40)
        ax.set_xlabel(f"$T_c$ ({low}→{high}) (K)")
        ax.set_ylabel("posterior draws (count)")
        fig.tight_layout()
        fig.savefig(plot)
        plt.close(fig)
    if as_json:
        emit_json(payload)
        return
    click.echo(f"posterior ({method}) from {post.n_rows} rows: RMSE E "
               f"{1e3 * post.rmse_energy:.3f} meV/atom, F {post.rmse_force:.4f} eV/Å")
    s = ens.summary()
    if tr.kind == "root":
        click.echo(f"T_c at the posterior mean: {tr.T_c:.1f} K (statistical ± "
                   f"{tr.sigma_Tc:.1f} K)")
    click.echo(f"T_c over {s['n_models']} draws: " + (
        f"{s['mean']:.1f} ± {s['std']:.1f} K ({100 * s['solved_fraction']:.0f}% solved)"
        if "mean" in s else "no solved transition"))
    click.echo(f"linearised: ± {linear:.1f} K")
    if "delta_F" in payload:
        d = payload["delta_F"]
        sampled = d["std_sampled_eV"]
        click.echo(f"ΔF({high}−{low}, {d['T']:g} K) = {1e3 * d['at_mean_eV']:.2f} meV/atom, "
                   f"spread {1e3 * sampled if sampled is not None else float('nan'):.2f} "
                   f"(sampled) / {1e3 * d['std_linearised_eV']:.2f} (linearised) meV/atom")
