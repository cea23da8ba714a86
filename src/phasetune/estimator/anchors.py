"""TI anchors of kinetic phases, kept beside their archive (method.md §4.6).

A liquid's kinetic shells give its entropy up to a constant; one free energy of the reference
potential per (phase, volume) — liquid TI of θ0 at one temperature — fixes it.  A crystal's
kinetic shells may take one too (instead of the harmonic limit: less integration noise near the
anchor's temperature).  Anchors live in
``<archive>.anchors.json`` (format ``phasetune-anchors`` v1): per phase, per volume tag (Å³/atom,
6 decimals), the anchor's T (K), F^(3N−3) (eV/atom), σ (eV/atom), the reference potential's
SHA-256 and the source file's name and SHA-256.  :func:`attach_anchors` puts them into the
phase volumes' provenance, where the estimator finds them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

from ..archive.sidecar import read_sidecar, sidecar_path, write_sidecar
from ..errors import ArchiveError, PhasetuneError
from ..model import PhaseVolume
from .kinetic import TIAnchor

FORMAT = "phasetune-anchors"
VERSION = 1
VOLUME_RTOL = 1e-6


def record_path(archive: str | Path) -> Path:
    """``<archive>.anchors.json``."""
    return sidecar_path(archive, "anchors")


def volume_key(volume: float) -> str:
    return f"{volume:.6f}"


def read_anchors(archive: str | Path) -> dict:
    """{phase: {volume tag: anchor dict}} of the archive's anchor record ({} if none)."""
    return read_sidecar(record_path(archive), FORMAT, VERSION,
                        "attach the TI again (phasetune anchor)")


def write_anchor(archive: str | Path, phase: str, volume: float, anchor: TIAnchor,
                 potential_sha256: str) -> Path:
    """Add (or replace) the anchor of one (phase, volume), atomically."""
    phases = read_anchors(archive)
    phases.setdefault(phase, {})[volume_key(volume)] = {
        **anchor.to_dict(), "volume": float(volume), "potential_sha256": potential_sha256}
    return write_sidecar(record_path(archive), FORMAT, VERSION, phases)


def attach_anchors(archive: str | Path, phase_volume: PhaseVolume,
                   reference_sha256: str | None = None) -> PhaseVolume:
    """``phase_volume`` with its recorded anchor in ``provenance["ti_anchor"]`` (unchanged
    without one: a crystal then uses its harmonic limit, a liquid is refused by the estimator
    with the fix).  An anchor made with another reference potential than the archive's is
    refused."""
    if phase_volume.flavour != "kinetic":
        return phase_volume
    ref = phase_volume.reference
    stored = read_anchors(archive).get(ref.phase, {}).get(volume_key(ref.volume))
    if stored is None:
        return phase_volume
    if reference_sha256 and stored.get("potential_sha256") not in (None, reference_sha256):
        raise ArchiveError(
            f"{record_path(archive)}: the anchor of {ref.phase} at {ref.volume:g} Å³/atom was "
            "computed with another potential than the archive's reference",
            "run liquid TI with the archive's reference potential and attach it again")
    return replace(phase_volume, provenance=dict(phase_volume.provenance, ti_anchor=stored))


def anchor_from_ti(path: str | Path, temperature: float | None = None
                   ) -> tuple[TIAnchor, float, int, str, bool]:
    """(anchor, volume Å³/atom, N, potential SHA-256, liquid?) from a ``phasetune ti [--structure
    liquid] --json`` file; ``temperature`` picks a row when the file has several (default: the
    only)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        data = json.loads(raw)
    except (OSError, ValueError) as exc:
        raise PhasetuneError(f"{path}: not a readable JSON file ({exc})",
                             "give the output of phasetune ti … --json") from exc
    rows = data.get("temperatures") if isinstance(data, dict) else None
    if not rows:
        raise PhasetuneError(f"{path}: no TI temperatures in it",
                             "give the output of phasetune ti … --json")
    if temperature is not None:
        rows = [r for r in rows if abs(float(r["T"]) - temperature) < 1e-6]
    if len(rows) != 1:
        found = ", ".join(f"{float(r['T']):g} K" for r in data["temperatures"])
        raise PhasetuneError(f"{path}: {len(rows)} rows match; temperatures there: {found}",
                             "pick one with --temperature")
    row = rows[0]
    try:
        n_atoms = int(data["n_atoms"])
        volume = float(data["volume_box"]) / n_atoms
        f = float(row["F_3N-3"])
        sigma = float(row["sigma"])
        sha = str(data["potential"]["sha256"])
    except (KeyError, TypeError, ValueError) as exc:
        raise PhasetuneError(f"{path}: missing field {exc} of a TI result",
                             "give the output of phasetune ti … --json") from exc
    source = f"{path.name} sha256:{hashlib.sha256(raw).hexdigest()[:16]}"
    return (TIAnchor(float(row["T"]), f, sigma, source), volume, n_atoms, sha,
            data.get("phase") == "liquid")
