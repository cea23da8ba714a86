"""F(V) of a liquid along an isotherm from its pressure: F(V₂, T) = F(V₁, T) − ∫P dV.

Per atom, with v = V_box/N (Å³/atom) and P the physical pressure (eV/Å³; free COM:
P = Nk_BT/V_box + ⟨P_virial⟩),

    F_phys(v) − F_phys(v₁) = −∫_{v₁}^{v} P(v′) dv′,
    F_3N-3(v) − F_3N-3(v₁) = F_phys(v) − F_phys(v₁) + (k_BT/N) ln(v/v₁)

(the second because f_trans = −(k_BT/N) ln[(V_box/N)/Λ_{Nm}³]).  ⟨P⟩ comes from NVT MD of the
liquid at each volume (Langevin, COM fixed, the target alone), judged liquid by the
:class:`~phasetune.ti.liquid_checks.LiquidGuard`.  The first volume is melted from the crystal;
each next volume starts from the previous liquid, rescaled.  P(v) is fitted by weighted least
squares with a polynomial of degree min(3, n − 1) (n volumes: 2 → the trapezoid, 3 → the
parabola through the points) and integrated exactly; σ follows from the fit covariance
(inflated by the reduced χ² when it exceeds 1).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms

from ..constants import GPA_TO_EV_PER_A3, KB
from ..errors import PhasetuneError
from ..potentials.linear import LinearPotential, PairPotential, pair_form
from .checkpoint import StageStore
from .liquid import describe_liquid
from .liquid_checks import LiquidGuard
from .liquid_md import LiquidMD, LiquidMDSettings
from .liquid_path import LiquidSettings, melt, sample_endpoint
from .npt import with_cell
from .uhlenbeck_ford import UFSettings


@dataclass
class LiquidVolumePath:
    """F per atom along an isotherm relative to the first volume.

    Attributes:
        temperature: K.
        volumes: (n,) Å³/atom, in the given order (the first is the reference).
        pressure, pressure_error: (n,) ⟨P⟩ (physical) and its standard error, eV/Å³.
        dF_phys, dF_com_fixed: (n,) F(v) − F(v₁) per atom, eV/atom (0 at the first volume);
            ``dF_com_fixed`` is the F_3N-3 convention.
        sigma: (n,) standard error of both, eV/atom.
        diffusion: (n,) D at each volume, Å²/ps.
        degree: degree of the P(v) polynomial.
        runs: per-volume MD results (energies, pressures, liquid checks).
    """

    temperature: float
    volumes: np.ndarray
    pressure: np.ndarray
    pressure_error: np.ndarray
    dF_phys: np.ndarray
    dF_com_fixed: np.ndarray
    sigma: np.ndarray
    diffusion: np.ndarray
    degree: int
    n_atoms: int
    cpu_seconds: float
    runs: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(self).items()}
        d["pressure_GPa"] = (self.pressure / GPA_TO_EV_PER_A3).tolist()
        d["pressure_error_GPa"] = (self.pressure_error / GPA_TO_EV_PER_A3).tolist()
        d["units"] = {"volumes": "Å³/atom", "pressure": "eV/Å³", "dF": "eV/atom",
                      "diffusion": "Å²/ps", "temperature": "K"}
        return d


def integrate_pressure(volumes: np.ndarray, pressure: np.ndarray,
                       error: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """−∫_{v₁}^{v_i} P dv per atom at every volume (module doc), with its standard error.

    Returns:
        (ΔF (n,), σ (n,), degree), eV/atom for P in eV/Å³ and v in Å³/atom.
    """
    v = np.asarray(volumes, dtype=float)
    p = np.asarray(pressure, dtype=float)
    s = np.maximum(np.asarray(error, dtype=float), 1e-12)
    n = len(v)
    if n < 2 or len(set(np.round(v, 10))) < n:
        raise PhasetuneError("the volume path needs at least two different volumes")
    degree = min(3, n - 1)
    center, scale = v.mean(), np.ptp(v)
    x = (v - center) / scale
    a = np.vander(x, degree + 1, increasing=True)
    w = 1.0 / s**2
    cov = np.linalg.inv(a.T @ (w[:, None] * a))
    coef = cov @ (a.T @ (w * p))
    dof = n - degree - 1
    if dof > 0:
        chi2 = float(np.sum(w * (a @ coef - p) ** 2)) / dof
        cov = cov * max(1.0, chi2)
    powers = np.arange(1, degree + 2)
    g = (x[:, None] ** powers - x[0] ** powers) / powers * scale  # ∫ basis dv
    return -(g @ coef), np.sqrt(np.einsum("ij,jk,ik->i", g, cov, g)), degree


def liquid_volume_path(
    atoms: Atoms, potential: LinearPotential | PairPotential, volumes: Sequence[float],
    temperature: float, *, steps: int = 4000, equilibration: int = 2000, seed: int = 0,
    melt_factor: float = 2.0, melt_steps: int = 2000, md_settings: LiquidMDSettings | None = None,
    checkpoint: str | Path | None = None, progress: bool | str = False,
) -> LiquidVolumePath:
    """F(v) − F(v₁) per atom of a liquid along the isotherm T from ⟨P⟩(v) (module doc).

    Args:
        atoms: a crystal with the wanted N (its volume is replaced by each of ``volumes``).
        potential: the LAMMPS potential.
        volumes: Å³/atom; the first is the reference (ΔF = 0).
        temperature: K.
        steps: production steps per volume (⟨P⟩, D); ``equilibration`` steps before each.
        seed: seeds velocities and thermostats (from (seed, volume index)).
        melt_factor, melt_steps: melting of the first volume's crystal.
        md_settings: timestep, damping, stride, chunk.
        checkpoint: JSON file of finished volumes (resumable), or None.
        progress: True (bar), ``"lines"`` or False.

    Returns:
        :class:`LiquidVolumePath`.
    """
    vols = [float(v) for v in volumes]
    if len(vols) < 2 or any(not v > 0 for v in vols):
        raise PhasetuneError("give at least two positive volumes (Å³/atom)")
    md_settings = md_settings or LiquidMDSettings()
    stride = md_settings.stride
    path = LiquidSettings(melt_factor=melt_factor, melt_steps=melt_steps,
                          endpoint_equilibration=equilibration, endpoint_production=steps
                          ).rounded(stride)
    n = len(atoms)
    scale = (np.array(vols) / (atoms.get_volume() / n)) ** (1.0 / 3.0)
    cells = [np.array(atoms.cell) * f for f in scale]
    cpu = time.process_time()
    runs: list[dict] = []
    with tempfile.TemporaryDirectory() as workdir:
        target = pair_form(potential, workdir)
        store = StageStore(checkpoint, {"structure": describe_liquid(atoms),
                                        "potential": target.describe(), "T": temperature,
                                        "volumes": vols, "seed": seed, "md": md_settings.to_dict(),
                                        "path": path.to_dict()})
        from ..progress import progress_bar

        positions = None
        total = len(vols) * (path.endpoint_equilibration + path.endpoint_production) + \
            path.melt_steps
        with progress_bar(total, "liquid volume path", progress) as bar:
            for i, cell in enumerate(cells):
                key = f"v={vols[i]:.8f}"
                done = store.get(key)
                if done is not None:
                    runs.append(done)
                    positions = np.array(done["positions"]) if i + 1 < len(cells) else None
                    continue
                crystal_i = with_cell(atoms, cell)
                start = crystal_i.copy()
                if positions is not None:
                    start.positions = positions @ np.linalg.solve(cells[i - 1], cell)
                where = f"{describe_liquid(crystal_i)} at {temperature:g} K (volume path)"
                rng = np.random.default_rng(np.random.SeedSequence([seed, 9, i]))
                guard = LiquidGuard(crystal_i, where)
                md = LiquidMD(start, target, UFSettings(), temperature, md_settings, label=where)
                try:
                    if positions is None:
                        melt(md, guard, path, rng, bar.update)
                    end = sample_endpoint(md, guard, path, rng, bar.update)
                    positions = md.positions()
                finally:
                    md.close()
                run = {"volume": vols[i], **{k: end[k] for k in (
                    "U", "U_error", "P", "P_error", "P_GPa", "P_com_fixed", "D")},
                    "liquid_check": end["liquid_check"], "positions": positions.tolist()}
                store.put(key, run)
                runs.append(run)
    p = np.array([r["P"] for r in runs])
    pe = np.array([r["P_error"] for r in runs])
    d_phys, sigma, degree = integrate_pressure(np.array(vols), p, pe)
    kt = KB * float(temperature)
    d_com = d_phys + kt / n * np.log(np.array(vols) / vols[0])
    runs = [{k: v for k, v in r.items() if k != "positions"} for r in runs]
    return LiquidVolumePath(
        temperature=float(temperature), volumes=np.array(vols), pressure=p, pressure_error=pe,
        dF_phys=d_phys, dF_com_fixed=d_com, sigma=sigma,
        diffusion=np.array([r["D"] if r["D"] is not None else np.nan for r in runs]),
        degree=degree, n_atoms=n, cpu_seconds=time.process_time() - cpu, runs=runs)
