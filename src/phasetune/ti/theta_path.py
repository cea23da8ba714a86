"""Route C: integration in θ between two linear potentials of the same descriptors.

For E_λ(X) = N[β0 + (θ0 + λΔθ)·D(X)] at fixed N, cell and T, the free energy per atom obeys

    dF/dλ = f(λ) = Δθ·⟨D⟩_λ,        f′(λ) = −βN·Var_λ(Δθ·D),

with D the per-atom descriptors.  Sampling only the two ends, the Euler–Maclaurin corrected
trapezoid rule gives

    F(θ0 + Δθ) − F(θ0) = ½[f(0) + f(1)] + (βN/12)[Var_1(Δθ·D) − Var_0(Δθ·D)] + O(f‴),

exact for Gaussian descriptor fluctuations and with a truncation error of fifth order in Δθ
otherwise.  The statistical error scales with |Δθ|, so a perturbed θ costs one short MD run on
top of a shared run at θ0 — far less than a λ-integration from the harmonic reference.  Fixed
(θ-independent) parts such as ZBL cancel; only bispectrum components may differ.

Every repeat runs NVT MD (COM fixed, :class:`~phasetune.ti.md.CoupledMD` in ``plain`` mode) at
θ0 and at each θ_m, each started from an exact harmonic draw of the reference and recording D.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass

import numpy as np
from ase import Atoms

from ..constants import KB
from ..errors import PhasetuneError
from ..harmonic.reference import describe
from ..model import HarmonicReference
from ..potentials.linear import LinearPotential
from .api import _check_temperatures, harmonic_reference
from .basin import BasinGuard
from .checkpoint import Checkpoint
from .md import U_THETA, CoupledMD, MDSettings, check_route_steps, lammps_seed
from .result import RepeatRecord
from .stats import blocking_error, summarize_series

METHOD = "theta"


@dataclass(frozen=True)
class ThetaPathSettings:
    """Steps per end point run: ``equilibration`` discarded, ``production`` recorded."""

    equilibration: int = 1000
    production: int = 4000

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ThetaPathResult:
    """F(θ_m) − F(θ0) per atom for n_T temperatures × n_models perturbed θ.

    Attributes:
        temperatures: (n_T,) K.
        delta_F: (n_T, n_models) eV/atom.
        sigma: (n_T, n_models) standard errors, eV/atom (spread of repeats, or block errors).
        first_order: (n_T, n_models) Δθ·⟨D⟩_θ0 alone, eV/atom (the D* gradient test).
        correction: (n_T, n_models) the Euler–Maclaurin term, eV/atom.
        D0_mean: (n_T, N_D) ⟨D⟩ at θ0, per atom (fixed components NaN).
        cpu_seconds: (n_T,) CPU time of all repeats at each T.
        settings: MD and path settings; repeats.
    """

    temperatures: np.ndarray
    delta_F: np.ndarray
    sigma: np.ndarray
    first_order: np.ndarray
    correction: np.ndarray
    D0_mean: np.ndarray
    cpu_seconds: np.ndarray
    settings: dict

    def to_dict(self) -> dict:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                for k, v in asdict(self).items()}


def end_point_difference(f0: np.ndarray, f1: np.ndarray, var0: np.ndarray, var1: np.ndarray,
                         temperature: float, n_atoms: int) -> np.ndarray:
    """F(θ0 + Δθ) − F(θ0) per atom from the two ends (module doc).

    Args:
        f0, f1: Δθ·⟨D⟩ at θ0 and at θ0 + Δθ, eV/atom (per-atom D).
        var0, var1: Var(Δθ·D) at each end, eV² (per-atom D).
        temperature: K.
        n_atoms: N.
    """
    beta = 1.0 / (KB * temperature)
    return 0.5 * (np.asarray(f0) + f1) + beta * n_atoms / 12.0 * (np.asarray(var1) - var0)


def _projections(series: np.ndarray, deltas: np.ndarray) -> list[dict]:
    """Mean, block error and variance of Δθ_m·D over a D series (n, N_b), per model."""
    out = []
    for delta in deltas:
        p = series @ delta
        out.append({"mean": float(p.mean()), "error": blocking_error(p),
                    "var": float(p.var(ddof=1))})
    return out


def _end_run(md: CoupledMD, harmonic: HarmonicReference, settings: ThetaPathSettings,
             rng: np.random.Generator, guard: BasinGuard | None,
             progress: Callable[[int], None] | None) -> tuple[np.ndarray, bool]:
    """One NVT run from a harmonic draw; returns the equilibrated D series (n, N_b)."""
    t = md.temperature
    md.set_state(harmonic.sample_displacements(rng, t), harmonic.sample_velocities(rng, t))
    md.set_thermostat(lammps_seed(rng))
    if settings.equilibration:
        md.run(settings.equilibration, record=(), check=guard, progress=progress)
    rec = md.run(settings.production, record=(U_THETA, *md.descriptor_variables), check=guard,
                 progress=progress)
    energy = summarize_series(rec[:, 1])
    return rec[energy.discarded:, 2:], energy.equilibrated


def _check_thetas(potential: LinearPotential, thetas: np.ndarray) -> np.ndarray:
    thetas = np.atleast_2d(np.asarray(thetas, dtype=float))
    n_d = potential.spec.n_components
    if thetas.ndim != 2 or thetas.shape[1] != n_d:
        raise PhasetuneError(f"θ has shape {thetas.shape}, expected (n_models, {n_d})",
                             "give one full θ (bispectrum and fixed components) per row")
    fixed = potential.spec.fixed_mask
    if not np.allclose(thetas[:, fixed], potential.theta[fixed]):
        raise PhasetuneError("θ-integration needs the fixed (θ-independent) components unchanged")
    return thetas


def theta_path(
    atoms: Atoms, potential: LinearPotential, thetas: np.ndarray,
    temperatures: Sequence[float] | float, repeats: int = 2, seed: int = 0,
    checkpoint: str | None = None, progress: bool | str = True, *,
    reference: HarmonicReference | None = None, md_settings: MDSettings | None = None,
    settings: ThetaPathSettings | None = None, basin: bool = True,
) -> ThetaPathResult:
    """F(θ_m) − F(θ0) per atom by θ-integration (module doc), θ0 = ``potential.theta``.

    Args:
        atoms: the crystal at its volume.
        potential: the potential at θ0 (LAMMPS SNAP, optionally with a fixed overlay).
        thetas: (n_models, N_D) perturbed θ (fixed components equal to θ0's).
        temperatures: K.
        repeats: independent repeats (each runs θ0 and every θ_m); ≥ 2 for an error bar from
            their spread.
        seed: base seed; repeat seeds derive from (seed, T, repeat).
        checkpoint: JSON file of finished repeats (resumable), or None.
        progress: True (bar), ``"lines"`` (one-line reports on stderr) or False.
        reference: the harmonic reference whose draws start each run (default: the Hessian of
            the potential), e.g. the D-DOS campaign's HarmonicReference.
        basin: stop with :class:`~phasetune.ti.basin.CrystalLeftBasinError` on melting.

    Returns:
        :class:`ThetaPathResult`.
    """
    thetas = _check_thetas(potential, thetas)
    temps = _check_temperatures(temperatures)
    md_settings = md_settings or MDSettings()
    settings = settings or ThetaPathSettings()
    check_route_steps(settings, md_settings, repeats)
    bisp = ~potential.spec.fixed_mask
    deltas = (thetas - potential.theta)[:, bisp]
    n = len(atoms)
    with tempfile.TemporaryDirectory() as workdir:
        target0 = potential.pair_potential(workdir)
        harmonic = harmonic_reference(atoms, target0, reference)
        targets = [potential.with_theta(th).pair_potential(workdir) for th in thetas]
        spec = {"structure": describe(atoms), "potential": target0.describe(),
                "reference": harmonic.sha256, "seed": seed, "md": md_settings.to_dict(),
                "theta_path": settings.to_dict(), "basin": basin,
                "thetas": np.round(thetas, 15).tolist()}
        store = Checkpoint(checkpoint, spec)
        todo = [(t, k) for t in temps for k in range(repeats) if store.get(METHOD, t, k) is None]
        per_run = settings.equilibration + settings.production
        from ..progress import progress_bar

        with progress_bar(len(todo) * per_run * (1 + len(thetas)), "TI θ-path",
                          progress) as bar:
            for t, k in todo:
                entropy = [seed, 7, int(round(t * 1000)), k]
                rng = np.random.default_rng(np.random.SeedSequence(entropy))
                cpu = time.process_time()
                runs, ok, steps = [], True, 0
                for m, target in enumerate([target0, *targets]):
                    where = f"{describe(atoms)} at {t:g} K (θ-path, model {m - 1}, repeat {k})"
                    with ExitStack() as stack:
                        guard = BasinGuard(harmonic, atoms, target, context=where) \
                            if basin else None
                        if guard is not None:
                            stack.callback(guard.close)
                        md = CoupledMD(atoms, harmonic, target, t, md_settings, mode="plain",
                                       descriptors=potential.spec, label=where)
                        stack.callback(md.close)
                        series, eq = _end_run(md, harmonic, settings, rng, guard, bar.update)
                        steps += md.step
                    ok &= eq
                    if m == 0:
                        d0 = series.mean(axis=0)
                        runs.append(_projections(series, deltas))
                    else:
                        runs.append(_projections(series, deltas[m - 1:m]))
                store.put(RepeatRecord(
                    temperature=t, repeat=k, method=METHOD, F_com_fixed=float("nan"),
                    sigma_block=float("nan"),
                    components={"start": runs[0], "end": [r[0] for r in runs[1:]],
                                "D0": d0.tolist()},
                    endpoint=None, equilibrated=bool(ok), diagnostics={}, seed=entropy,
                    cpu_seconds=time.process_time() - cpu, n_steps=steps))
    return _combine(store, temps, repeats, n, len(thetas), bisp,
                    {"md": md_settings.to_dict(), "theta_path": settings.to_dict(),
                     "repeats": repeats, "seed": seed})


def _combine(store: Checkpoint, temps: list[float], repeats: int, n_atoms: int,
             n_models: int, bisp: np.ndarray, settings: dict) -> ThetaPathResult:
    """Per repeat: ΔF_m from the two ends; then the mean over repeats and its error."""
    shape = (len(temps), n_models)
    delta, sigma, first, corr = (np.empty(shape) for _ in range(4))
    d0 = np.full((len(temps), bisp.size), np.nan)
    cpu = np.zeros(len(temps))
    for i, t in enumerate(temps):
        recs = [store.get(METHOD, t, k) for k in range(repeats)]
        values, blocks, firsts, corrs = [], [], [], []
        for r in recs:
            a, b = r.components["start"], r.components["end"]
            f0, f1 = (np.array([s["mean"] for s in x]) for x in (a, b))
            v0, v1 = (np.array([s["var"] for s in x]) for x in (a, b))
            value = end_point_difference(f0, f1, v0, v1, t, n_atoms)
            c = value - 0.5 * (f0 + f1)
            values.append(value)
            blocks.append(0.5 * np.hypot([s["error"] for s in a], [s["error"] for s in b]))
            firsts.append(f0)
            corrs.append(c)
            cpu[i] += r.cpu_seconds
        values = np.array(values)
        delta[i] = values.mean(axis=0)
        block = np.sqrt((np.array(blocks) ** 2).sum(axis=0)) / len(recs)
        spread = values.std(axis=0, ddof=1) / np.sqrt(len(recs)) if len(recs) > 1 else block
        sigma[i] = np.maximum(spread, block)
        first[i] = np.mean(firsts, axis=0)
        corr[i] = np.mean(corrs, axis=0)
        d0[i, bisp] = np.mean([r.components["D0"] for r in recs], axis=0)
    return ThetaPathResult(np.array(temps), delta, sigma, first, corr, d0, cpu, settings)
