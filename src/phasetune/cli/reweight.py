"""``phasetune reweight``: frames of θ0 (``sample``) and free energies of other θ from them
(``predict``), the trajectory-reweighting route (method.md §2.6)."""

from __future__ import annotations

import click

from .common import emit_json


@click.group("reweight")
def command() -> None:
    """Trajectory reweighting: sample frames of a potential once, then δF of nearby
    parameters without MD."""


@command.command("sample")
@click.argument("config", type=click.Path(exists=True, dir_okay=False))
@click.option("--progress/--no-progress", default=True, help="One line per stored chunk.")
@click.option("--json", "as_json", is_flag=True, help="Print a summary as JSON.")
def sample(config, progress, as_json) -> None:
    """Sample frames (NVT, or NPT with `pressure:`) as CONFIG.yaml describes; rerunning resumes
    an interrupted run.  Keys: potential, structure|structure_file, element, volume|
    lattice_constant, cells, temperature (K), pressure (GPa or null), steps, stride,
    equilibration, chunk_frames, seed, out."""
    from ..reweighting.config import load_config
    from ..reweighting.sampling import sample_frames
    from .options import resolve_potential

    cfg = load_config(config)
    potential = resolve_potential(cfg.values["potential"], cfg.values["element"])
    atoms = cfg.atoms(potential)

    def report(done: int, wanted: int) -> None:
        click.echo(f"phasetune: reweight sample: {done}/{wanted} frames", err=True)

    store = sample_frames(atoms, potential, float(cfg.values["temperature"]), cfg.out,
                          pressure=cfg.pressure, settings=cfg.settings,
                          seed=int(cfg.values["seed"]), progress=report if progress else None)
    summary = {"out": str(cfg.out), "frames": store.n_frames, "n_atoms": store.n_atoms,
               "temperature": store.temperature, "ensemble": store.ensemble,
               "mean_energy_per_atom": float(store.energy.mean() / store.n_atoms),
               "mean_volume_per_atom": float(store.volume.mean() / store.n_atoms)}
    if as_json:
        emit_json(summary)
    else:
        click.echo(f"{store.n_frames} {store.ensemble.upper()} frames of {store.n_atoms} atoms "
                   f"at {store.temperature:g} K in {cfg.out}")


@command.command("predict")
@click.argument("frames", type=click.Path(exists=True, dir_okay=False))
@click.option("--potential", "potentials", multiple=True,
              help="Target potential (repeatable): lammps:NAME or a .snap/.snapcoeff file.")
@click.option("--theta-file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Further θ as a .npy array, (P,) or (M, P).")
@click.option("--anchor", type=click.Path(exists=True, dir_okay=False), default=None,
              help="phasetune ti --json of θ0 at the frames' cell and T: adds F = F_TI + δF.")
@click.option("--min-ess", type=float, default=0.5, show_default=True,
              help="Smallest accepted Kish effective-sample fraction n_eff/F.")
@click.option("--flags", is_flag=True, help="Report low-ESS estimates flagged instead of "
              "refusing them.")
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
def predict(frames, potentials, theta_file, anchor, min_ess, flags, as_json) -> None:
    """δF (meV/atom; δG for NPT frames), σ and ESS of each target from FRAMES.h5."""
    import numpy as np

    from ..reweighting.predict import predict as run_predict
    from .options import resolve_potential

    targets = [resolve_potential(p) for p in potentials]
    thetas = np.load(theta_file) if theta_file else None
    result = run_predict(frames, targets, thetas, anchor=anchor, min_ess=min_ess, flags=flags)
    names = [getattr(p, "name", str(p)) for p in targets]
    names += [f"{theta_file}[{k}]" for k in range(len(result.thetas) - len(targets))]
    if as_json:
        emit_json({"frames": frames, "targets": names, **result.to_dict()})
        return
    label = "δG" if result.ensemble == "npt" else "δF"
    click.echo(f"{result.n_frames} frames, {result.n_atoms} atoms, {result.temperature:g} K")
    for k, name in enumerate(names):
        line = (f"{name}: {label} = {1e3 * result.delta_F[k]:+.4f} ± "
                f"{1e3 * result.sigma[k]:.4f} meV/atom, ESS {result.ess_fraction[k]:.3f}")
        if result.F is not None:
            line += (f", F = {result.F[k]:.6f} eV/atom ± {1e3 * result.F_sigma[k]:.4f} "
                     "meV/atom")
        if result.flagged[k]:
            line += "  [LOW ESS]"
        click.echo(line)
