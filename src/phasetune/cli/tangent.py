"""``phasetune tangent``: F(θ, T) of non-linear potentials from a tangent archive, with the
curvature correction from MD frames of θ0 (:mod:`phasetune.tangent`)."""

from __future__ import annotations

import click
import numpy as np

from ..errors import PhasetuneError
from .common import emit_json, handle_errors
from .options import temperature_option


@click.command("tangent")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
@click.option("--potential", "potentials", multiple=True, required=True,
              help="An ML-IAP nn potential of the archive's architecture (repeatable).")
@temperature_option
@click.option("--phase", default=None, help="Phase of the archive (default: every phase).")
@click.option("--frames", "frame_files", multiple=True,
              help="PHASE=FRAMES.h5: MD frames of θ0 (`phasetune reweight sample`) for the "
                   "curvature correction at their temperature (repeatable, one per phase).")
@click.option("--tolerance", type=float, default=1.0, show_default=True,
              help="Curvature error (meV/atom) beyond which a step is outside the validated "
                   "range.")
@click.option("--strict", is_flag=True, help="Refuse models outside the validated range.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@handle_errors
def command(archive, potentials, temperatures, phase, frame_files, tolerance, strict,
            as_json) -> None:
    """F(θ, T) per atom of each potential, linearised at the archive's θ0 (descriptors.tangent
    campaigns), corrected for curvature where frames are given (method.md §2.5)."""
    from ..archive.hdf5 import read_archive
    from ..estimator.store import load_volume_estimators
    from ..potentials.registry import load_potential
    from ..tangent.prediction import predict_tangent, spec_for, tangent_record

    data = read_archive(archive)
    record = tangent_record(data.metadata, archive)
    pots = [load_potential(p) for p in potentials]
    spec = spec_for(record, pots[0], archive)
    for pot in pots[1:]:
        spec_for(record, pot, archive)
    thetas = np.stack([p.theta for p in pots])
    frames = _frames(frame_files, spec)
    phases = [phase] if phase else list(data.phases)
    estimators = load_volume_estimators(archive, phases=phases, data=data)
    out = {}
    for name in phases:
        if len(estimators[name]) != 1:
            raise PhasetuneError(f"phase {name} has {len(estimators[name])} volumes",
                                 "the tangent verb evaluates one volume per phase; pick one "
                                 "archive per volume")
        out[name] = predict_tangent(estimators[name][0], spec, thetas, temperatures,
                                    frames=frames.get(name), tolerance=1e-3 * tolerance,
                                    strict=strict)
    if as_json:
        emit_json({"archive": archive, "potentials": [p.name for p in pots],
                   "phases": {n: r.to_dict() for n, r in out.items()}})
        return
    for name, res in out.items():
        for m, pot in enumerate(pots):
            flag = "validated" if res.validated[m] else (
                "outside the validated range" if res.curvature else "curvature not corrected")
            click.echo(f"{name}  {pot.name}  |δθ|/|θ0| = {res.step[m]:.3g}  ({flag})")
            for i, t in enumerate(res.temperatures):
                note = " (curvature-corrected)" if res.corrected[i] else ""
                click.echo(f"  T = {t:7.1f} K  F = {res.F[i, m]:.6f} ± "
                           f"{1e3 * res.sigma_F[i, m]:.3f} meV/atom{note}")


def _frames(items: tuple[str, ...], spec) -> dict[str, tuple[np.ndarray, float]]:
    """{phase: (per-atom descriptors (F, N, K), T)} of ``PHASE=FILE`` items, checked against the
    archive's θ0."""
    from ..reweighting.store import read_frames

    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep:
            raise PhasetuneError(f"--frames {item}: expected PHASE=FRAMES.h5")
        store = read_frames(path)
        if store.theta0.shape != spec.theta0.shape or not np.allclose(store.theta0,
                                                                      spec.theta0):
            raise PhasetuneError(f"{path}: the frames were not sampled at the archive's θ0",
                                 "sample frames with the potential the archive was expanded at")
        out[name] = (store.descriptors, store.temperature)
    return out
