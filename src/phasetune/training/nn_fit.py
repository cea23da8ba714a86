"""Fit an ML-IAP nn potential to a teacher's per-atom energies, and validate it in LAMMPS.

Data: short Langevin MD runs of the teacher (crystals at a few volumes and temperatures, plus a
liquid melted from a crystal), each frame giving the per-atom SNAP descriptors (``compute
sna/atom``), the teacher's per-atom energies (``compute pe/atom``; for a SNAP teacher they are
exactly its ε_i), the total energy and the forces.  Each run's last ``validation_fraction`` of
frames is held out (a later, time-separated stretch of the trajectory).

Fit: full-batch in torch float64, loss = mean over atoms of (ε_i − ε_i^teacher)² (eV²), Adam then
L-BFGS; the inputs are standardised through the network's scale0/scale1 (the mean and standard
deviation of the training descriptors), the output layer starts at the mean and spread of ε.

Validation: the written potential runs in LAMMPS (``pair_style mliap``) on the held-out frames;
energy RMSE in meV/atom and force RMSE in eV/Å against the teacher, per phase.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..engine.calculators import AtomEnergyEvaluator, ForceEvaluator
from ..errors import PotentialError
from ..potentials.linear import DescriptorSpec, LinearPotential, PairPotential
from ..potentials.mliap import ACTIVATIONS, NNPotential, build_network, read_descriptor
from ..potentials.registry import load_potential
from ..structures.crystals import crystal
from ..yamlconfig import load_yaml_model, resolve_path

Activation = Literal["linear", "sigmoid", "tanh", "relu"]
assert set(ACTIVATIONS) == {"linear", "sigmoid", "tanh", "relu"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PhaseData(_Strict):
    """MD runs of one phase: every volume × temperature (a liquid is melted first)."""

    name: str
    structure: str
    cells: int | tuple[int, int, int] = 1
    volume: float = Field(gt=0)
    """Å³/atom at zero strain."""
    strains: list[float] = [0.0]
    """Volume strains ΔV/V (e.g. [-0.03, 0, 0.03])."""
    temperatures: list[float] = Field(min_length=1)
    """K."""
    melt_temperature: float | None = Field(default=None, gt=0)
    """K: first run at this temperature (a liquid), then at each temperature."""

    @model_validator(mode="after")
    def _positive(self):
        if any(t <= 0 for t in self.temperatures):
            raise ValueError("temperatures must be positive (K)")
        if any(abs(s) >= 0.5 for s in self.strains):
            raise ValueError("strains are ΔV/V, |strain| < 0.5")
        return self


class MDData(_Strict):
    timestep: float = Field(default=0.002, gt=0)
    """ps."""
    equilibration: int = Field(default=500, ge=0)
    """steps before the first frame."""
    melt_steps: int = Field(default=2000, ge=0)
    frames: int = Field(default=24, ge=2)
    """frames per run (training and held-out)."""
    stride: int = Field(default=25, ge=1)
    """steps between frames."""
    damping: float = Field(default=0.1, gt=0)
    """Langevin damping time, ps."""
    validation_fraction: float = Field(default=0.25, gt=0, lt=1)
    seed: int = 1


class FitSettings(_Strict):
    adam_steps: int = Field(default=3000, ge=0)
    learning_rate: float = Field(default=5e-3, gt=0)
    lbfgs_steps: int = Field(default=300, ge=0)
    energy_weight: float = Field(default=1.0, ge=0)
    """weight of the per-atom-averaged total energy error relative to the per-atom one."""
    seed: int = 0


class NNFitSpec(_Strict):
    """``train-nn`` YAML: teacher, architecture, data, fit, output."""

    teacher: str
    element: str | None = None
    descriptor: Path | None = None
    """an ``.mliap.descriptor``; default: the teacher's own SNAP descriptors."""
    hidden: list[tuple[Activation, int]] = Field(min_length=1)
    output_activation: Activation = "linear"
    phases: list[PhaseData] = Field(min_length=1)
    md: MDData = MDData()
    fit: FitSettings = FitSettings()
    output: Path = Path("nn_potential")
    name: str = "nn"


def load_nn_fit_spec(path: str | Path) -> NNFitSpec:
    """Read and validate a ``train-nn`` YAML; relative paths resolve against its directory."""
    path = Path(path)
    spec = load_yaml_model(path, NNFitSpec, "train-nn", "examples/potentials/Mo_nn/train.yaml")
    base = path.parent
    spec.output = resolve_path(spec.output, base)
    if spec.descriptor is not None:
        spec.descriptor = resolve_path(spec.descriptor, base)
    if not spec.teacher.startswith("lammps:"):
        spec.teacher = str(resolve_path(Path(spec.teacher), base))
    return spec


# -- data -----------------------------------------------------------------------------------
@dataclass
class Frames:
    """Frames of one MD run (F frames of N atoms, K descriptors).

    Attributes:
        phase: phase name; label: run description.
        atoms: the structure (cell, species).
        positions: (F, N, 3) Å.  descriptors: (F, N, K).  atom_energies: (F, N) eV.
        energies: (F,) eV total.  forces: (F, N, 3) eV/Å.  species: (N,) element indices.
    """

    phase: str
    label: str
    atoms: object
    positions: np.ndarray
    descriptors: np.ndarray
    atom_energies: np.ndarray
    energies: np.ndarray
    forces: np.ndarray
    species: np.ndarray

    def split(self, fraction: float) -> tuple[Frames, Frames]:
        """(training, held-out): the last ``fraction`` of the frames is held out."""
        n_val = max(1, int(round(fraction * len(self.energies))))
        cut = len(self.energies) - n_val

        def part(sl: slice) -> Frames:
            return Frames(self.phase, self.label, self.atoms, self.positions[sl],
                          self.descriptors[sl], self.atom_energies[sl], self.energies[sl],
                          self.forces[sl], self.species)

        return part(slice(0, cut)), part(slice(cut, None))


def teacher_frames(teacher: PairPotential | LinearPotential | NNPotential, spec: DescriptorSpec,
                   atoms, temperature: float, md: MDData, seed: int, phase: str,
                   workdir: Path, melt_temperature: float | None = None) -> Frames:
    """Langevin MD of ``teacher`` at ``temperature`` K from ``atoms`` (after ``md.melt_steps`` at
    ``melt_temperature`` if given), recording ``md.frames`` frames every ``md.stride`` steps."""
    ev = AtomEnergyEvaluator(atoms, teacher, spec, workdir=workdir)
    eng = ev.engine
    t0 = melt_temperature or temperature
    eng.commands([f"timestep {md.timestep!r}",
                  f"velocity all create {t0!r} {seed} dist gaussian mom yes rot no",
                  "fix pt_nve all nve",
                  f"fix pt_lgv all langevin {t0!r} {t0!r} {md.damping!r} {seed + 1} zero yes"])
    if melt_temperature is not None:
        eng.command(f"run {md.melt_steps} post no")
        eng.commands(["unfix pt_lgv", f"fix pt_lgv all langevin {temperature!r} "
                      f"{temperature!r} {md.damping!r} {seed + 2} zero yes"])
    eng.command(f"run {md.equilibration} post no")
    rows = []
    for k in range(md.frames):
        eng.command(f"run {md.stride} post no")
        # the thermostat's drag and noise would enter the forces of the evaluation: lift it
        eng.command("unfix pt_lgv")
        energy, forces, eps, b = ev.evaluate(None)
        eng.command(f"fix pt_lgv all langevin {temperature!r} {temperature!r} {md.damping!r} "
                    f"{seed + 3 + k} zero yes")
        rows.append((eng.positions().copy(), b.copy(), eps, energy, forces))
    eng.close()
    label = f"{phase} {atoms.info.get('volume', 0):.3f} Å³/atom {temperature:g} K"
    return Frames(phase, label, atoms, np.array([r[0] for r in rows]),
                  np.array([r[1] for r in rows]), np.array([r[2] for r in rows]),
                  np.array([r[3] for r in rows]), np.array([r[4] for r in rows]), ev.species)


def generate_data(fit: NNFitSpec, teacher, spec: DescriptorSpec, workdir: Path,
                  progress=None) -> list[Frames]:
    """All MD runs of ``fit.phases`` (see module doc)."""
    element = fit.element or spec.elements[0]
    runs = []
    seed = fit.md.seed
    for phase in fit.phases:
        for strain in phase.strains:
            volume = phase.volume * (1 + strain)
            for temperature in phase.temperatures:
                atoms = crystal(phase.structure, element, volume=volume, cells=phase.cells)
                seed += 7
                runs.append(teacher_frames(teacher, spec, atoms, temperature, fit.md, seed,
                                           phase.name, workdir, phase.melt_temperature))
                if progress:
                    progress(runs[-1].label)
    return runs


# -- fit ------------------------------------------------------------------------------------
@dataclass
class FitResult:
    potential: NNPotential
    history: list[float] = field(default_factory=list)
    """training loss √L in meV (L the mean squared per-atom energy error plus the weighted total
    energy term) at the start and at the end of each stage (Adam, L-BFGS)."""
    train_rmse: float = float("nan")
    """per-atom energy RMSE on the training frames, meV."""
    seconds: float = 0.0


def fit_network(name: str, spec: DescriptorSpec, hidden: list[tuple[str, int]], output: str,
                train: list[Frames], settings: FitSettings) -> FitResult:
    """Fit ε(B; θ) to the per-atom teacher energies of ``train`` (see module doc)."""
    from ..nonlinear.network import NetworkModel, require_torch

    torch = require_torch()
    start = time.perf_counter()
    b = np.concatenate([f.descriptors.reshape(-1, f.descriptors.shape[-1]) for f in train])
    eps = np.concatenate([f.atom_energies.ravel() for f in train])
    scale0, scale1 = b.mean(0), b.std(0)
    scale1[scale1 < 1e-12] = 1.0
    net = build_network(name, spec, hidden, output, scale0=scale0, scale1=scale1,
                        seed=settings.seed)
    if output == "linear":  # start the output at the mean and spread of ε
        theta = net.theta.reshape(len(spec.elements), -1)
        n_last = net.architecture.layers[-2] if len(net.architecture.layers) > 1 else \
            net.n_descriptors
        theta[:, -n_last - 1] = eps.mean()
        theta[:, -n_last:] *= eps.std()
        net = net.with_theta(theta.ravel(), name)
    model = NetworkModel(net)
    torch.manual_seed(settings.seed)
    frames_t = [(torch.as_tensor(f.descriptors), torch.as_tensor(f.atom_energies),
                 f.species) for f in train]
    n_atoms = sum(f.atom_energies.size for f in train)
    theta = torch.tensor(net.theta, requires_grad=True)

    def loss_fn() -> torch.Tensor:
        total = theta.new_zeros(())
        for bt, et, species in frames_t:
            pred = model.atom_energies_tensor(bt, theta, species)
            total = total + ((pred - et) ** 2).sum()
            if settings.energy_weight:
                n = et.shape[1]
                total = total + settings.energy_weight * n * (
                    ((pred.sum(1) - et.sum(1)) / n) ** 2).sum()
        return total / n_atoms

    with torch.no_grad():
        history = [1e3 * float(loss_fn()) ** 0.5]
    if settings.adam_steps:
        opt = torch.optim.Adam([theta], lr=settings.learning_rate)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, settings.adam_steps,
                                                           settings.learning_rate * 0.02)
        for _ in range(settings.adam_steps):
            opt.zero_grad()
            loss = loss_fn()
            loss.backward()
            opt.step()
            sched.step()
        history.append(1e3 * float(loss_fn().detach()) ** 0.5)
    if settings.lbfgs_steps:
        opt = torch.optim.LBFGS([theta], lr=1.0, max_iter=settings.lbfgs_steps,
                                history_size=50, line_search_fn="strong_wolfe",
                                tolerance_grad=1e-12, tolerance_change=1e-16)

        def closure():
            opt.zero_grad()
            loss = loss_fn()
            loss.backward()
            return loss

        opt.step(closure)
        history.append(1e3 * float(loss_fn().detach()) ** 0.5)
    fitted = net.with_theta(theta.detach().numpy().copy(), name)
    pred = np.concatenate([NetworkModel(fitted).atom_energies(f.descriptors, species=f.species)
                           .ravel() for f in train])
    return FitResult(fitted, history, 1e3 * float(np.sqrt(np.mean((pred - eps) ** 2))),
                     time.perf_counter() - start)


# -- validation ------------------------------------------------------------------------------
def validate_in_lammps(potential: NNPotential, held_out: list[Frames], workdir: Path
                       ) -> dict[str, dict[str, float]]:
    """Per phase: energy RMSE (meV/atom), force RMSE (eV/Å) and frame count of the written
    potential run by LAMMPS against the teacher's held-out frames."""
    errors: dict[str, dict[str, list]] = {}
    pair = potential.pair_potential(workdir)
    for frames in held_out:
        ev = ForceEvaluator(frames.atoms, pair)
        n = frames.positions.shape[1]
        acc = errors.setdefault(frames.phase, {"de": [], "df": []})
        for x, e_ref, f_ref in zip(frames.positions, frames.energies, frames.forces,
                                   strict=True):
            e, f = ev.energy_forces(x)
            acc["de"].append((e - e_ref) / n)
            acc["df"].append((f - f_ref).ravel())
        ev.engine.close()
    out = {}
    for phase, acc in errors.items():
        out[phase] = {"energy_rmse_meV_per_atom": 1e3 * float(np.sqrt(np.mean(
                          np.square(acc["de"])))),
                      "force_rmse_eV_per_A": float(np.sqrt(np.mean(np.square(
                          np.concatenate(acc["df"]))))),
                      "frames": len(acc["de"])}
    return out


def teacher_spec(fit: NNFitSpec, teacher) -> DescriptorSpec:
    """The descriptors of the network: ``fit.descriptor`` or the teacher's own (no overlay)."""
    if fit.descriptor is not None:
        return read_descriptor(fit.descriptor)
    if isinstance(teacher, LinearPotential | NNPotential):
        if teacher.spec.quadratic:
            raise PotentialError("a quadratic SNAP teacher's descriptors include products",
                                 "give descriptor: an .mliap.descriptor file in the YAML")
        from dataclasses import replace

        return replace(teacher.spec, fixed_style=(), fixed_coeffs=())
    raise PotentialError(f"teacher {fit.teacher} has no SNAP descriptors to reuse",
                         "give descriptor: an .mliap.descriptor file in the YAML")


def train_nn(fit: NNFitSpec, progress=None) -> dict:
    """Generate data, fit, write ``fit.output/fit.name.*`` and validate in LAMMPS; returns the
    summary also written to ``fit.output/fit.name.json``."""
    start = time.perf_counter()
    teacher = load_potential(fit.teacher, fit.element)
    spec = teacher_spec(fit, teacher)
    out = Path(fit.output)
    out.mkdir(parents=True, exist_ok=True)
    work = out / ".work"
    runs = generate_data(fit, teacher, spec, work, progress)
    t_data = time.perf_counter() - start
    split = [r.split(fit.md.validation_fraction) for r in runs]
    train, held = [s[0] for s in split], [s[1] for s in split]
    result = fit_network(fit.name, spec, [tuple(h) for h in fit.hidden], fit.output_activation,
                         train, fit.fit)
    paths = result.potential.write(out, fit.name)
    written = load_potential(str(paths["mliap"]))
    validation = validate_in_lammps(written, held, work)
    teacher_pair = teacher.pair_potential(work) if isinstance(
        teacher, LinearPotential | NNPotential) else teacher
    summary = {
        "name": fit.name, "teacher": fit.teacher, "teacher_sha256": teacher_pair.sha256,
        "net": result.potential.architecture.net_line(), "n_params": result.potential.n_params,
        "descriptors": {k: v for k, v in spec.params.values.items()},
        "files": {k: p.name for k, p in paths.items()}, "sha256": written.sha256,
        "data": {"runs": [r.label for r in runs], "n_train_frames": int(sum(
            len(t.energies) for t in train)), "n_validation_frames": int(sum(
                len(h.energies) for h in held)), "md": fit.md.model_dump()},
        "fit": {**fit.fit.model_dump(), "stage_rmse_meV_per_atom": result.history,
                "train_atom_energy_rmse_meV": result.train_rmse},
        "validation": validation,
        "seconds": {"data": t_data, "fit": result.seconds,
                    "total": time.perf_counter() - start},
        "units": "energy RMSE meV/atom (total energy per atom), force RMSE eV/Å",
    }
    (out / f"{fit.name}.json").write_text(json.dumps(summary, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    return summary
