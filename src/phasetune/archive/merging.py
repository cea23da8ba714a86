"""Combining archives and summarising them (``phasetune merge`` / ``phasetune info``).

Merge rules (docs/archive.md): the archives must share the descriptor spec, the reference
potential and the conventions.  A (phase, volume) present in one archive only is copied; the same
(phase, volume) requires the same reference lattice and Hessian (exact array equality) and the same
flavour; shells with the same α are merged with :func:`phasetune.archive.stats.merge` (identical
frames, disjoint batch ids), new α are added.
"""

from __future__ import annotations

import copy
from dataclasses import fields, replace

import numpy as np

from ..conventions import Conventions
from ..errors import ArchiveError
from ..jsonutil import to_jsonable
from ..model import HarmonicReference, PhaseVolume, ShellStats, shells_have_raw
from .frame import residual_correlation
from .schema import (
    JSON_ATTRS,
    MANAGED_METADATA,
    VOLUME_RTOL,
    Archive,
    canonical_json,
    compatibility_problems,
    now_iso,
)
from .stats import ALPHA_TOL, merge


def _same_volume(a: PhaseVolume, b: PhaseVolume) -> bool:
    va, vb = a.reference.volume, b.reference.volume
    return a.reference.phase == b.reference.phase and abs(va - vb) <= VOLUME_RTOL * max(va, vb)


def _merge_volume(target: PhaseVolume, other: PhaseVolume) -> None:
    """Merge ``other`` into ``target`` (a private copy) in place."""
    ta, tb = target.reference, other.reference
    where = f"phase {ta.phase!r} V={ta.volume:g} Å³/atom"
    differ = [
        f.name
        for f in fields(HarmonicReference)
        if getattr(ta, f.name) is not None
        and getattr(tb, f.name) is not None
        and not np.array_equal(np.asarray(getattr(ta, f.name)), np.asarray(getattr(tb, f.name)))
    ]
    if differ:
        raise ArchiveError(
            f"{where}: the reference lattices differ in {', '.join(differ)}",
            "merge only archives sampled around the same cached lattice and Hessian",
        )
    if target.flavour != other.flavour:
        raise ArchiveError(f"{where}: flavours {target.flavour!r} and {other.flavour!r} differ")
    if ta.eigenvectors is None and tb.eigenvectors is not None:
        target.reference = replace(ta, eigenvectors=np.array(tb.eigenvectors))
    for shell in other.shells:
        match = [i for i, s in enumerate(target.shells) if abs(s.alpha - shell.alpha) <= ALPHA_TOL]
        if match:
            target.shells[match[0]] = merge(target.shells[match[0]], shell)
        else:
            target.shells.append(copy.deepcopy(shell))
    target.shells.sort(key=lambda s: s.alpha)
    if canonical_json(target.provenance) != canonical_json(other.provenance):
        target.provenance = {"merged": [target.provenance, other.provenance]}


def merge_archives(a: Archive, b: Archive) -> Archive:
    """Combine two archives of the same campaign into a new in-memory Archive (inputs untouched).

    Root metadata are ``a``'s; ``provenance`` records both sources (path, created, sampler,
    provenance).  Write the result with :func:`phasetune.archive.hdf5.write_archive`.

    Raises:
        ArchiveError: incompatible metadata, reference lattices, flavours or frames, or a batch id
            present in both archives.
    """
    problems = compatibility_problems(a.metadata, b.metadata)
    if problems:
        raise ArchiveError(
            f"cannot merge archives: {'; '.join(problems)}",
            "only archives of one campaign (descriptor spec, reference potential, conventions) "
            "can be merged",
        )
    volumes = [copy.deepcopy(pv) for pv in a.phase_volumes]
    for pv in b.phase_volumes:
        target = next((t for t in volumes if _same_volume(t, pv)), None)
        if target is None:
            volumes.append(copy.deepcopy(pv))
        else:
            _merge_volume(target, pv)
    meta = {k: copy.deepcopy(v) for k, v in a.metadata.items() if k in JSON_ATTRS}
    sources = [
        {
            "path": str(x.path) if x.path else None,
            "created": x.metadata.get("created"),
            "sampler": x.metadata.get("sampler", {}),
            "provenance": x.metadata.get("provenance", {}),
        }
        for x in (a, b)
    ]
    meta["provenance"] = {"merged_at": now_iso(), "merged_from": sources}
    return Archive(meta, volumes)


def _nbytes(pv: PhaseVolume) -> int:
    objs = [pv.reference, *pv.shells]
    return int(
        sum(
            np.asarray(getattr(o, f.name)).nbytes
            for o in objs
            for f in fields(o)
            if getattr(o, f.name) is not None and not isinstance(getattr(o, f.name), str)
        )
    )


def _shell_summary(s: ShellStats, reference: HarmonicReference,
                   conventions: Conventions) -> dict:
    return {
        "alpha": float(s.alpha),
        "e_alpha": float(np.exp(s.alpha)),
        "T_alpha": float(reference.shell_temperature(s.alpha, conventions)),
        "count": int(s.count),
        "n_batches": len(s.batch_ids),
        "underflow": int(np.sum(s.hist_under)),
        "overflow": int(np.sum(s.hist_over)),
        "u_min": to_jsonable(float(np.min(s.u_min, initial=np.inf))),
        "u_max": to_jsonable(float(np.max(s.u_max, initial=-np.inf))),
        "energy_mean": to_jsonable(float(s.energy_mean)),
        "energy_std": to_jsonable(float(np.sqrt(s.energy_var))),
        "max_frame_correlation": residual_correlation(s),
        "raw": s.raw is not None,
    }


def _joint_status(pv: PhaseVolume) -> str:
    """Whether the estimator's joint correction (method.md §7) can be on for this volume."""
    raw = shells_have_raw(pv.shells)
    theta = pv.provenance.get("reference_theta") is not None
    if raw and theta:
        return "on (raw descriptors and the reference θ are recorded)"
    missing = [w for w, ok in (("raw descriptors", raw), ("reference θ", theta)) if not ok]
    return (f"off ({' and '.join(missing)} not recorded: product of marginals only; "
            "re-sample with store_raw: true and a linear reference potential)")


def _volume_summary(index: int, pv: PhaseVolume, modes: str) -> dict:
    ref = pv.reference
    conventions = Conventions(modes=modes)
    shells = sorted(pv.shells, key=lambda s: s.alpha)
    return {
        "index": index,
        "volume": float(ref.volume),
        "n_atoms": int(ref.n_atoms),
        "n_components": pv.descriptors.n_components,
        "flavour": pv.flavour,
        "omega_bar": ref.omega_bar,
        "mean_log_nu": ref.mean_log_nu,
        "n_modes": ref.n_modes,
        "E0_ref": float(ref.E0),
        "n_shells": len(shells),
        "n_samples": int(sum(s.count for s in shells)),
        "size_bytes": _nbytes(pv),
        "provenance": pv.provenance,
        "joint_correction": _joint_status(pv),
        "shells": [_shell_summary(s, ref, conventions) for s in shells],
    }


def summarize(archive: Archive) -> dict:
    """JSON-able overview for ``phasetune info``: versions, timestamps, file size, descriptor,
    conventions, sampler, reference potential, provenance, and per phase and volume N, N_D, ω̄,
    sizes and per shell α, e^α (Å²), T_α (K, with the archive's r convention), counts, batches,
    under/overflow, u range, energy diagnostics and the largest residual frame correlation."""
    meta = archive.metadata
    desc = meta.get("descriptor", {})
    modes = meta.get("conventions", {}).get("modes", "3N")
    path = archive.path
    return {
        "path": str(path) if path else None,
        "file_size_bytes": path.stat().st_size if path and path.exists() else None,
        **{k: meta.get(k) for k in MANAGED_METADATA},
        "descriptor": {
            "kind": desc.get("kind"),
            "n_components": len(desc.get("labels", [])),
            "labels": desc.get("labels", []),
            "params": desc.get("params", {}),
        },
        **{k: meta.get(k, {}) for k in ("conventions", "units", "sampler")},
        **{k: meta.get(k, {}) for k in ("reference_potential", "provenance")},
        "phases": [
            {
                "phase": phase,
                "volumes": [
                    _volume_summary(i, pv, modes) for i, pv in enumerate(archive.volumes(phase))
                ],
            }
            for phase in archive.phases
        ],
    }
