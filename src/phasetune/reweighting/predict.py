"""δF (or δG) of target potentials from a frame store, optionally anchored by TI at θ0.

    F(θ) = F_TI(θ0) + δF(θ)       (eV/atom; δF from :func:`~phasetune.reweighting.reweight`)

The anchor is a ``phasetune ti --json`` file of the store's own potential, structure and
temperature: at constant volume its ``F_3N-3`` (the frames are COM-fixed, and the COM terms do
not depend on θ), at constant pressure its ``G_3N-3``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..constants import GPA_TO_EV_PER_A3
from ..errors import PhasetuneError
from ..estimator.anchors import anchor_from_ti
from ..nonlinear.model import DescriptorModel, LinearModel, descriptor_spec, model_for
from ..potentials.linear import DESCRIPTOR_KEYS
from .estimator import DEFAULT_MIN_ESS, ReweightResult, reweight
from .store import FrameStore, read_frames


def _check_descriptors(store: FrameStore, potential: Any) -> None:
    """The potential's SNAP descriptors must be those the frames hold."""
    mine, stored = descriptor_spec(potential).as_dict(), store.metadata.get("descriptor", {})
    for key in DESCRIPTOR_KEYS:
        if mine["params"].get(key) != stored.get("params", {}).get(key):
            raise PhasetuneError(
                f"{getattr(potential, 'name', potential)} uses other descriptors than the "
                f"frames ({key}: {mine['params'].get(key)} vs {stored['params'].get(key)})",
                "reweight only potentials on the frames' descriptor set; sample new frames")
    for key in ("elements", "radii", "weights"):
        if mine[key] != stored.get(key):
            raise PhasetuneError(f"{getattr(potential, 'name', potential)}: descriptor {key} "
                                 f"{mine[key]} differ from the frames' {stored.get(key)}",
                                 "sample frames with this descriptor set")


def load_anchor(path: str | Path, store: FrameStore) -> tuple[float, float, str]:
    """(F or G at θ0 per atom eV/atom, σ, source) from a TI JSON matching the store's run."""
    path = Path(path)
    t = store.temperature
    sha = store.metadata["potential"]["sha256"]
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise PhasetuneError(f"{path}: not a readable JSON file ({exc})",
                             "give the output of phasetune ti … --json") from exc
    if store.ensemble == "npt":
        rows = [r for r in data.get("temperatures", []) if abs(float(r["T"]) - t) < 1e-6]
        p = float(store.metadata["pressure"]) / GPA_TO_EV_PER_A3
        if "pressure_GPa" not in data or abs(float(data["pressure_GPa"]) - p) > 1e-6 \
                or len(rows) != 1 or "G_3N-3" not in rows[0]:
            raise PhasetuneError(f"{path}: no constant-pressure TI row at {t:g} K and "
                                 f"{p:g} GPa", "anchor NPT frames with phasetune ti --pressure "
                                 "… --json at the frames' T and P")
        value, sigma = float(rows[0]["G_3N-3"]), float(rows[0]["sigma"])
        n_atoms, ti_sha = int(data.get("n_atoms", store.n_atoms)), data["potential"]["sha256"]
    else:
        anchor, volume, n_atoms, ti_sha, liquid = anchor_from_ti(path, t)
        value, sigma = anchor.free_energy, anchor.sigma
        v_frames = float(np.mean(store.volume)) / store.n_atoms
        if abs(volume - v_frames) > 1e-6 * v_frames:
            raise PhasetuneError(f"{path}: TI at {volume:.6g} Å³/atom, frames at "
                                 f"{v_frames:.6g} Å³/atom", "anchor with TI at the frames' cell")
    if n_atoms != store.n_atoms:
        raise PhasetuneError(f"{path}: TI of {n_atoms} atoms, frames of {store.n_atoms}",
                             "anchor with TI of the frames' cell")
    if ti_sha != sha:
        raise PhasetuneError(f"{path}: the TI potential (sha256 {ti_sha[:12]}…) is not the "
                             f"frames' θ0 potential (sha256 {sha[:12]}…)",
                             "anchor with TI of the potential the frames were sampled with")
    return value, sigma, path.name


def predict(frames: str | Path | FrameStore, potentials: list[Any] | None = None,
            thetas: np.ndarray | None = None, *, model: DescriptorModel | None = None,
            anchor: str | Path | tuple[float, float] | None = None,
            min_ess: float = DEFAULT_MIN_ESS, flags: bool = False) -> ReweightResult:
    """δF per atom of each target (θ of ``potentials``, then the rows of ``thetas``).

    Args:
        frames: a frame store (path or loaded).
        potentials: target potentials (each through :func:`model_for`; the first gives the
            model, all must share the frames' descriptors).
        thetas: (M, P) further parameter sets.
        model: the DescriptorModel (default: the first potential's, or the linear SNAP model of
            the frames' descriptors when only ``thetas`` are given).
        anchor: a TI JSON of θ0 (:func:`load_anchor`) or (value, σ) eV/atom; adds ``F``.
        min_ess, flags: the ESS guard of :func:`~phasetune.reweighting.reweight`.
    """
    store = frames if isinstance(frames, FrameStore) else read_frames(frames)
    if not store.complete:
        raise PhasetuneError(f"{store.path}: sampling is unfinished ({store.n_frames} frames)",
                             "rerun phasetune reweight sample with the same config to finish it")
    rows = []
    for potential in potentials or []:
        _check_descriptors(store, potential)
        m, theta = model_for(potential)
        model = model or m
        rows.append(theta)
    if thetas is not None:
        rows.extend(np.atleast_2d(np.asarray(thetas, dtype=float)))
    if not rows:
        raise PhasetuneError("nothing to predict", "give target potentials or a θ file")
    if model is None:
        if store.metadata.get("model", "LinearModel") != "LinearModel":
            raise PhasetuneError("θ alone needs the model of the frames' potential",
                                 "also give --potential (the first fixes the model)")
        model = LinearModel(store.descriptors.shape[2])
    result = reweight(store.descriptors, store.theta0, np.array(rows), model,
                      store.temperature, min_ess=min_ess, flags=flags, ensemble=store.ensemble)
    if anchor is not None:
        value, sigma = anchor if isinstance(anchor, tuple) else load_anchor(anchor, store)[:2]
        result = result.with_anchor(value, sigma)
    return result
