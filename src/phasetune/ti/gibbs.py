"""Gibbs free energy per atom at fixed pressure: NPT mean cell, then TI at that cell.

For each temperature T: :func:`~phasetune.ti.npt.npt_volume` gives the mean cell ⟨h⟩ at (P, T)
(COM fixed); the crystal is rescaled homogeneously to ⟨h⟩ and
:func:`~phasetune.ti.api.thermodynamic_integration` gives F at that volume; then, per atom,

    G = F(⟨V⟩) + P⟨V⟩,      σ_G² = σ_F² + P²σ_V²

in every convention of :mod:`~phasetune.ti.result` (G_3N-3, G_3N, G_phys).  A Langevin NVT run
at ⟨h⟩ measures ⟨P⟩ as a check: it must agree with P within its error (about (B/V)·σ_V and the
O(1/N) difference between ⟨V⟩_NPT and the volume where ⟨P⟩_NVT = P).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms

from ..constants import GPA_TO_EV_PER_A3
from ..conventions import Conventions
from ..errors import PhasetuneError
from ..harmonic.reference import describe
from ..potentials.linear import LinearPotential, PairPotential
from .api import thermodynamic_integration
from .barostat import NPTSettings
from .checkpoint import StageStore
from .npt import VolumeResult, check_pressure, npt_volume, nvt_pressure, with_cell
from .result import PointColumns, TIResult, selected_key

VARIANTS = ("F_3N-3", "F_3N", "F_phys")
PRESSURE_CHECK_SIGMAS = 4.0
"""|⟨P⟩_NVT(⟨V⟩) − P| beyond this many combined standard errors gives a warning."""


def potential_fingerprint(potential: LinearPotential | PairPotential) -> dict:
    """Name and content hash of a potential (stable across temporary directories)."""
    digest = hashlib.sha256(type(potential).__name__.encode())
    theta = getattr(potential, "theta", None)
    if theta is not None:
        digest.update(np.ascontiguousarray(theta, dtype=float).tobytes())
    for path in getattr(potential, "files", ()) or ():
        digest.update(Path(path).read_bytes())
    for attr in ("pair_style", "pair_coeffs"):
        digest.update(repr(getattr(potential, attr, "")).encode())
    return {"name": getattr(potential, "name", type(potential).__name__),
            "sha256": digest.hexdigest()}


@dataclass
class GibbsPoint:
    """G per atom at one (P, T).

    Attributes:
        temperature: K.
        pressure: eV/Å³.
        npt: the constant-pressure run giving the mean cell.
        ti: the TI at the mean cell (one temperature).
        pressure_check: (⟨P⟩, σ) eV/Å³ by NVT MD at the mean cell.
    """

    temperature: float
    pressure: float
    npt: VolumeResult
    ti: TIResult
    pressure_check: tuple[float, float]

    @property
    def volume(self) -> float:
        """⟨V⟩/N, Å³/atom."""
        return self.npt.volume

    @property
    def sigma_volume(self) -> float:
        return self.npt.sigma_volume

    @property
    def sigma(self) -> float:
        """σ_G, eV/atom: the TI error and P·σ_V in quadrature."""
        return float(np.hypot(self.ti.sigma[0], self.pressure * self.sigma_volume))

    def variants(self) -> dict[str, float]:
        """G_3N-3, G_3N, G_phys (eV/atom) = the F variants at ⟨V⟩ + P⟨V⟩."""
        pv = self.pressure * self.volume
        return {"G" + k[1:]: float(self.ti.variant(k)[0]) + pv for k in VARIANTS}

    def G(self, conventions: Conventions) -> float:
        return self.variants()["G" + selected_key(conventions)[1:]]

    def to_dict(self, conventions: Conventions) -> dict:
        ti = self.ti.to_dict()
        p, sp = self.pressure_check
        return {"T": self.temperature, "pressure_GPa": self.pressure / GPA_TO_EV_PER_A3,
                "volume": self.volume, "sigma_volume": self.sigma_volume,
                "G": self.G(conventions), "sigma": self.sigma, **self.variants(),
                "F": ti["temperatures"][0]["F"], "sigma_F": float(self.ti.sigma[0]),
                **{k: ti["temperatures"][0][k] for k in VARIANTS},
                "PV": self.pressure * self.volume,
                "pressure_check": {"P_GPa": p / GPA_TO_EV_PER_A3,
                                   "sigma_GPa": sp / GPA_TO_EV_PER_A3,
                                   "sigma_from_volume_GPa": self.npt.bulk_modulus
                                   * self.sigma_volume / self.volume / GPA_TO_EV_PER_A3,
                                   "volume": self.volume},
                "cell": np.asarray(self.npt.cell).tolist(), "npt": self.npt.to_dict(),
                "ti": ti}


@dataclass
class GibbsResult(PointColumns):
    """G(T) per atom at one pressure.

    Attributes:
        structure: description of the starting crystal.
        potential: name and hash of the potential.
        method: TI route.
        pressure: eV/Å³.
        conventions: which variant ``G`` reports.
        points: one :class:`GibbsPoint` per temperature, in the given order.
        settings: NPT and TI settings.
        warnings: non-fatal problems.
    """

    structure: str
    potential: dict
    method: str
    pressure: float
    conventions: Conventions
    points: list[GibbsPoint]
    settings: dict
    warnings: list[str] = field(default_factory=list)

    @property
    def G(self) -> np.ndarray:
        """(n_T,) G per atom in the selected convention, eV/atom."""
        return np.array([p.G(self.conventions) for p in self.points])

    @property
    def volume(self) -> np.ndarray:
        """(n_T,) ⟨V⟩/N, Å³/atom."""
        return np.array([p.volume for p in self.points])

    @property
    def sigma_volume(self) -> np.ndarray:
        return np.array([p.sigma_volume for p in self.points])

    def to_dict(self) -> dict:
        key = selected_key(self.conventions)
        return {"structure": self.structure, "potential": self.potential,
                "method": f"NPT mean cell + {self.method} TI",
                "pressure_GPa": self.pressure / GPA_TO_EV_PER_A3, "pressure": self.pressure,
                "convention": self.conventions.as_dict(), "reported_F": key,
                "reported_G": "G" + key[1:],
                "temperatures": [p.to_dict(self.conventions) for p in self.points],
                "settings": self.settings, "warnings": self.warnings,
                "units": {"G": "eV/atom", "F": "eV/atom", "volume": "Å³/atom", "T": "K",
                          "pressure": "eV/Å³", "pressure_GPa": "GPa"}}


def gibbs_free_energy(
    atoms: Atoms, potential: LinearPotential | PairPotential,
    temperatures: Sequence[float] | float, pressure: float = 0.0, method: str = "lambda",
    repeats: int = 3, conventions: Conventions | None = None, steps: int | None = None,
    seed: int = 0, checkpoint: str | Path | None = None, progress: bool | str = True, *,
    npt_steps: int = 10_000, check_steps: int = 4000, npt_settings: NPTSettings | None = None,
    basin: bool = True, **ti_kwargs,
) -> GibbsResult:
    """Classical Gibbs free energy per atom G = F(⟨V⟩) + P⟨V⟩ at pressure P (module doc).

    Args:
        atoms: the starting crystal (any volume near equilibrium; ``info['n_trans']`` set).
        potential: the LAMMPS potential.
        temperatures: K, one or more.
        pressure: eV/Å³ (GPa × ``phasetune.constants.GPA_TO_EV_PER_A3``).
        method, repeats, conventions, steps, seed, progress: as
            :func:`~phasetune.ti.api.thermodynamic_integration`.
        checkpoint: JSON file of finished stages (NPT volumes); the TI at each temperature uses
            a companion file ``<stem>.ti-<T>K.json``.  Rerunning with it resumes.
        npt_steps: production steps of each NPT run (a quarter more equilibrates).
        check_steps: steps of the NVT pressure check at the mean cell (0: no check).
        npt_settings: barostat and integration settings of the NPT runs.
        basin: the melting/transformation guard (NPT and TI).
        ti_kwargs: further arguments of :func:`~phasetune.ti.api.thermodynamic_integration`
            (``md_settings``, ``lambda_settings``, ``fl_settings``).

    Returns:
        :class:`GibbsResult`: ``G`` (n_T,) eV/atom, ``sigma``, ``volume`` Å³/atom, …
    """
    pressure = check_pressure(pressure)
    temps = [float(t) for t in np.atleast_1d(temperatures)]
    if not temps or any(not t > 0 for t in temps):
        raise PhasetuneError("temperatures must be positive (K)")
    conventions = conventions or Conventions()
    npt_settings = npt_settings or NPTSettings()
    spec = {"structure": describe(atoms), "cell": np.round(np.array(atoms.cell), 8).tolist(),
            "potential": potential_fingerprint(potential), "pressure": pressure,
            "npt": npt_settings.to_dict(), "npt_steps": npt_steps, "seed": seed,
            "basin": basin}
    store = StageStore(checkpoint, spec)
    points, warnings = [], []
    for t in temps:
        key = f"npt|T={t:.6f}"
        stored = store.get(key)
        if stored is None:
            npt = npt_volume(atoms, potential, t, pressure, steps=npt_steps, seed=seed,
                             settings=npt_settings, basin=basin)
            store.put(key, npt.to_dict())
        else:
            npt = VolumeResult.from_dict(stored)
        at_mean = with_cell(atoms, npt.cell)
        ti = thermodynamic_integration(at_mean, potential, [t], method=method, repeats=repeats,
                                       conventions=conventions, steps=steps, seed=seed,
                                       checkpoint=store.sibling(f"ti-{t:g}K"), progress=progress,
                                       basin=basin, **ti_kwargs)
        check_key = f"pressure-check|T={t:.6f}"
        check = store.get(check_key)
        if check is None:
            check = {"P": float("nan"), "sigma": float("nan")}
            if check_steps:
                p, sp = nvt_pressure(at_mean, potential, t, steps=check_steps, seed=seed,
                                     settings=npt_settings)
                check = {"P": p, "sigma": sp}
            store.put(check_key, check)
        point = GibbsPoint(t, pressure, npt, ti, (check["P"], check["sigma"]))
        points.append(point)
        warnings += ti.warnings
        warnings += _npt_warnings(point)
    return GibbsResult(structure=describe(atoms), potential=spec["potential"], method=method,
                       pressure=pressure, conventions=conventions, points=points,
                       settings={"npt": npt_settings.to_dict(), "npt_steps": npt_steps,
                                 "check_steps": check_steps, "seed": seed, "repeats": repeats,
                                 "ti": points[0].ti.settings},
                       warnings=warnings)


def _npt_warnings(point: GibbsPoint) -> list[str]:
    out = []
    t = point.temperature
    if not point.npt.equilibrated:
        out.append(f"T = {t:g} K: the NPT volume series drifts (not equilibrated); "
                   "consider more NPT steps")
    p, sp = point.pressure_check
    # the mean cell is uncertain by σ_V: ⟨P⟩ at it by B·σ_V/V
    b = point.npt.bulk_modulus if np.isfinite(point.npt.bulk_modulus) else 0.0
    spread = np.hypot(sp, b * point.sigma_volume / point.volume)
    if np.isfinite(p) and abs(p - point.pressure) > PRESSURE_CHECK_SIGMAS * spread:
        out.append(f"T = {t:g} K: the NVT pressure at the mean cell is "
                   f"{p / GPA_TO_EV_PER_A3:.3f} ± {sp / GPA_TO_EV_PER_A3:.3f} GPa, not the "
                   f"requested {point.pressure / GPA_TO_EV_PER_A3:g} GPa; consider more NPT steps")
    return out
