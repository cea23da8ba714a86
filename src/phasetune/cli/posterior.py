"""``phasetune posterior``: Gaussian posterior of θ from a training set, propagated to T_c."""

from __future__ import annotations

from pathlib import Path

import click

from ..conventions import Conventions
from .common import emit_json, handle_errors
from .options import degree_option, modes_option, route_option


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
@modes_option
@degree_option
@route_option
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Save mean, covariance and the draws' T_c (.npz).")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="Histogram of T_c over the draws (PNG).")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def command(archives, potential, training, n_generate, label_potential, at_temperature, method,
            low, high, t_range, samples, modes, degree, route, output, plot, as_json) -> None:
    """Bayesian linear regression of θ on energies and forces; the T_c it implies, by sampling
    and by the linearised formula Var T_c ≈ ∇T_cᵀ Σ_θ ∇T_c."""
    from ..estimator.store import load_phase_estimators
    from ..potentials.registry import load_potential
    from ..training.workflow import posterior_transition

    pot = load_potential(potential)
    estimators = load_phase_estimators([Path(a) for a in archives], Conventions(modes=modes),
                                       degree, route)
    result = posterior_transition(
        estimators, pot, low, high, training=training,
        labeller=load_potential(label_potential) if label_potential else None,
        n_generate=n_generate, method=method, t_range=t_range, samples=samples,
        at_temperature=at_temperature)
    post, tr, ens, linear = result.posterior, result.transition, result.ensemble, \
        result.std_linearised
    payload = result.to_dict()
    if output:
        result.save(output)
    if plot:
        from ..plots import plot_transition_draws

        plot_transition_draws(ens.T_c[ens.solved], plot, f"$T_c$ ({low}→{high}) (K)")
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
