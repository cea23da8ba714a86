"""LAMMPS Langevin MD of the Hamiltonians of thermodynamic integration (method.md §9).

One :class:`CoupledMD` owns one LAMMPS instance running classical NVT dynamics with the centre
of mass fixed:

* ``fix langevin T T damp seed zero yes`` + ``fix nve``: the random forces sum to zero, the
  potentials are translation invariant and the initial momentum is zero, so the COM stays put
  (``fix momentum`` removes round-off drift).  This samples the 3N − 3 internal coordinates, the
  "3N − 3" convention of method.md §3.
* ``mode="lambda"``: U_λ = λ·U_θ + (1 − λ)·U_H.  The target's pair style is wrapped in
  ``pair_style hybrid/scaled v_pt_lam …``; U_H (and a harmonic target) act through a
  ``fix external pf/callback`` computing the forces in numpy.
* ``mode="plain"``: U_θ alone (Frenkel–Ladd adds ``fix ti/spring`` on top, see
  :mod:`~phasetune.ti.frenkel_ladd`).
* ``mode="energy"``: U_λ = (1 − λ)·U_0 + λ·U_1 between two LAMMPS potentials (the target U_0 and
  ``end`` U_1), both in one ``pair_style hybrid/scaled``; U_0 and U_1 are recorded separately
  from per-sub-style ``compute pair`` (unscaled energies), see
  :mod:`~phasetune.ti.energy_path`.

Runs proceed in chunks (basin checks and progress between chunks); every ``stride`` steps the
recorded equal-style variables are stored by a ``fix vector``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from ase import Atoms

from ..engine.calculators import sna_compute_command
from ..engine.session import Engine, lammps_float
from ..errors import EngineError, PhasetuneError
from ..model import HarmonicReference
from ..potentials.linear import DescriptorSpec, PairPotential

LAMBDA_VAR = "pt_lam"
EXT_ID = "pt_ext"
LANGEVIN_ID = "pt_lgv"
RECORD_ID = "pt_rec"
U_THETA = "pt_ut"
"""Recorded variable: target energy U_θ, eV (total, unscaled)."""
U_HARMONIC = "pt_uh"
"""Recorded variable: harmonic reference energy U_H, eV (total)."""
U_START = "pt_u0"
"""Recorded variable (``mode="energy"``): U_0 of the start potential, eV (total, unscaled)."""
U_END = "pt_u1"
"""Recorded variable (``mode="energy"``): U_1 of the end potential, eV (total, unscaled)."""
START_SCALE = "pt_lam0"
STEP = "pt_step"

Target = PairPotential | HarmonicReference


def check_md_settings(settings: MDSettings, max_timestep: float) -> None:
    """Refuse Langevin settings (``timestep``, ``damping``, ``stride``, ``chunk``) that are
    out of range: timestep in (0, ``max_timestep``] ps, damping > 0, stride ≥ 1 and a chunk
    that is a multiple of the stride."""
    if not 0 < settings.timestep <= max_timestep + 1e-15:
        raise PhasetuneError(f"timestep {settings.timestep} ps is outside "
                             f"(0, {max_timestep:g}] ps",
                             f"use a timestep of at most {max_timestep * 1e3:g} fs")
    if settings.damping <= 0 or settings.stride < 1 or settings.chunk < settings.stride:
        raise PhasetuneError("MD settings need damping > 0, stride ≥ 1 and chunk ≥ stride")
    if settings.chunk % settings.stride:
        raise PhasetuneError(f"chunk ({settings.chunk}) must be a multiple of stride "
                             f"({settings.stride})")


def check_route_steps(settings, md_settings: MDSettings, repeats: int) -> None:
    """Refuse a route's ``equilibration``/``production`` steps that are not multiples of the MD
    stride, and fewer than one repeat."""
    if repeats < 1:
        raise PhasetuneError("repeats must be at least 1")
    for name in ("equilibration", "production"):
        if getattr(settings, name) % md_settings.stride:
            raise PhasetuneError(f"{name} steps must be a multiple of the stride "
                                 f"{md_settings.stride}")


@dataclass(frozen=True)
class MDSettings:
    """Integration settings shared by every TI route.

    Attributes:
        timestep: ps (≤ 0.001, method.md §9).
        damping: Langevin damping time 1/γ, ps.  Close to critical damping of the soft phonons
            (γ ≈ 2Ω): configurational energies then decorrelate fastest, which is all TI needs.
        stride: steps between recorded samples.
        chunk: steps between basin checks and progress updates (a multiple of ``stride``).
        momentum_every: steps between removals of round-off COM momentum.
    """

    timestep: float = 1e-3
    damping: float = 0.04
    stride: int = 10
    chunk: int = 500
    momentum_every: int = 100

    def __post_init__(self) -> None:
        check_md_settings(self, 1e-3)

    def to_dict(self) -> dict:
        return asdict(self)


def scaled_pair_commands(pair: PairPotential, variable: str,
                         known_styles: Collection[str]) -> list[str]:
    """``pair_style hybrid/scaled v_<variable> …`` commands scaling every sub-style of ``pair``.

    A plain style becomes one scaled sub-style (its ``pair_coeff`` lines gain the style name); a
    ``hybrid`` or ``hybrid/overlay`` style keeps its sub-styles (recognised by name among
    ``known_styles``), each scaled, and its ``pair_coeff`` lines unchanged.
    """
    style, *args = pair.pair_style
    scale = f"v_{variable}"
    if style in ("hybrid", "hybrid/overlay"):
        words: list[str] = []
        for word in args:
            if word in known_styles:
                words.append(scale)
            words.append(word)
        if not words or words[0] != scale:
            raise PhasetuneError("cannot parse the sub-styles of pair_style "
                                 + " ".join(pair.pair_style))
        coeffs = [" ".join(("pair_coeff", *c)) for c in pair.pair_coeffs]
    elif style.startswith("hybrid"):
        raise PhasetuneError(f"pair_style {style} cannot be scaled for λ-integration",
                             "use a plain, hybrid or hybrid/overlay pair style")
    else:
        words = [scale, style, *args]
        coeffs = [" ".join(("pair_coeff", *c[:2], style, *c[2:])) for c in pair.pair_coeffs]
    return [f"pair_style hybrid/scaled {' '.join(words)}", *coeffs]


def pair_sub_styles(pair: PairPotential,
                    known_styles: Collection[str]) -> list[tuple[list[str], list[list[str]]]]:
    """The sub-styles of ``pair``: (style words, its ``pair_coeff`` lines as [i, j, args…]).

    A plain style is one sub-style; a ``hybrid``/``hybrid/overlay`` style is split at the words
    that are pair-style names (among ``known_styles``) and each ``pair_coeff`` line goes to the
    sub-style it names.  A style used twice in one hybrid is refused (its lines are ambiguous).
    """
    style, *args = pair.pair_style
    if style not in ("hybrid", "hybrid/overlay"):
        if style.startswith("hybrid"):
            raise PhasetuneError(f"pair_style {style} cannot be mixed with another potential",
                                 "use a plain, hybrid or hybrid/overlay pair style")
        return [([style, *args], [list(c) for c in pair.pair_coeffs])]
    subs: list[tuple[list[str], list[list[str]]]] = []
    for word in args:
        if word in known_styles:
            subs.append(([word], []))
        elif subs:
            subs[-1][0].append(word)
        else:
            raise PhasetuneError("cannot parse the sub-styles of pair_style "
                                 + " ".join(pair.pair_style))
    names = [words[0] for words, _ in subs]
    if len(set(names)) < len(names):
        raise PhasetuneError(f"{pair.name}: a sub-style appears twice in pair_style "
                             + " ".join(pair.pair_style),
                             "give each sub-style once (or write the potential as one style)")
    for c in pair.pair_coeffs:
        if len(c) < 3 or c[2] not in names:
            raise PhasetuneError(f"{pair.name}: pair_coeff {' '.join(c)} names no sub-style of "
                                 + " ".join(pair.pair_style))
        subs[names.index(c[2])][1].append([*c[:2], *c[3:]])
    return subs


def mixed_pair_commands(start: PairPotential, end: PairPotential, start_scale: str,
                        end_scale: str, known_styles: Collection[str]
                        ) -> tuple[list[str], list[list[str]]]:
    """``pair_style hybrid/scaled`` of (v_start_scale)·U_0 + (v_end_scale)·U_1.

    Every sub-style of each potential becomes one scaled sub-style; a style name used more than
    once in the mix (e.g. two ``mliap`` models) gets LAMMPS's instance index in its
    ``pair_coeff`` lines and computes (``pair_coeff * * mliap 2 Cu``).

    Returns:
        (commands, [start compute words, end compute words]): the pair commands, then for each
        potential the ``compute … pair`` arguments (``style [index]``) of its sub-styles.
    """
    parts = [(sub, start_scale, 0) for sub in pair_sub_styles(start, known_styles)] + \
        [(sub, end_scale, 1) for sub in pair_sub_styles(end, known_styles)]
    names = [words[0] for (words, _), _, _ in parts]
    seen: dict[str, int] = {}
    style_words: list[str] = []
    coeffs: list[str] = []
    computes: list[list[str]] = [[], []]
    for ((words, lines), scale, which), name in zip(parts, names, strict=True):
        seen[name] = seen.get(name, 0) + 1
        ref = [name, str(seen[name])] if names.count(name) > 1 else [name]
        style_words += [f"v_{scale}", *words]
        coeffs += [" ".join(("pair_coeff", *c[:2], *ref, *c[2:])) for c in lines]
        computes[which].append(" ".join(ref))
    return [f"pair_style hybrid/scaled {' '.join(style_words)}", *coeffs], computes


def descriptor_commands(spec: DescriptorSpec, types: Sequence[str],
                        n_atoms: int) -> tuple[list[str], list[str]]:
    """Computes and variables giving the SNAP bispectrum part of D (per atom) on the fly.

    Returns:
        (commands, variable names), one variable per component of each element block (K, or
        K + K(K+1)/2 for quadratic SNAP) in the order of
        :class:`~phasetune.engine.calculators.DescriptorEvaluator` (element blocks in
        ``spec.elements`` order); the fixed component is not included.
    """
    cmds = [sna_compute_command(spec, "pt_sna")]
    names = []
    for element in spec.elements:
        t = list(types).index(element) + 1
        cmds += [f"group pt_type{t} type {t}",
                 f"compute pt_bsum{t} pt_type{t} reduce sum c_pt_sna[*]"]
        for k in range(1, spec.n_block + 1):
            name = f"pt_d{t}_{k}"
            cmds.append(f"variable {name} equal c_pt_bsum{t}[{k}]/{n_atoms}")
            names.append(name)
    return cmds, names


class _HarmonicCallback:
    """``fix external`` callback: forces w_H·F_H + w_T·F_target; vector = (U_H, U_target)."""

    def __init__(self, engine: Engine, reference: HarmonicReference,
                 target: HarmonicReference | None):
        self.engine = engine
        self.reference = reference.rotated(engine.rotation)  # LAMMPS's frame
        self.target = target.rotated(engine.rotation) if target is not None else None
        self.weights = (1.0, 0.0)
        self.error: BaseException | None = None

    def __call__(self, caller, step, nlocal, tag, x, fext) -> None:  # noqa: ANN001 - LAMMPS API
        try:
            idx = np.asarray(tag).ravel() - 1
            pos = np.empty_like(x)
            pos[idx] = x
            w_h, w_t = self.weights
            u_h, f = self.reference.energy_forces(pos)
            f = w_h * f
            u_t = 0.0
            if self.target is not None:
                u_t, f_t = self.target.energy_forces(pos)
                f = f + w_t * f_t
            fext[:] = f[idx]
            lmp = self.engine.lmp
            lmp.fix_external_set_energy_global(EXT_ID, w_h * u_h + w_t * u_t)
            lmp.fix_external_set_vector(EXT_ID, 1, u_h)
            lmp.fix_external_set_vector(EXT_ID, 2, u_t)
        except BaseException as exc:  # surfaced after the run: ctypes would swallow it
            self.error = exc
            fext[:] = 0.0


class CoupledMD:
    """Langevin NVT (COM fixed) of a target potential coupled to a harmonic reference.

    Args:
        atoms: the crystal (species, masses, cell); positions are replaced by ``reference.X0``.
        reference: the harmonic reference U_H (also the sites for displacements).
        target: the potential of interest: LAMMPS commands, or an exactly harmonic model.
        temperature: K.
        settings: integration settings.
        mode: ``"lambda"`` (λ-mixed Hamiltonian), ``"plain"`` (target alone) or ``"energy"``
            ((1 − λ)·target + λ·``end``; records :data:`U_START` and :data:`U_END`).
        descriptors: a SNAP spec whose bispectrum D is recorded as well (variables
            :attr:`descriptor_variables`), or None.
        label: text for error messages.
        end: the end potential U_1 of ``mode="energy"`` (same elements as the target).
    """

    def __init__(self, atoms: Atoms, reference: HarmonicReference, target: Target,
                 temperature: float, settings: MDSettings, mode: str = "lambda",
                 descriptors: DescriptorSpec | None = None, label: str = "",
                 end: PairPotential | None = None):
        if mode not in ("lambda", "plain", "energy"):
            raise PhasetuneError(f"unknown MD mode {mode!r}")
        if (mode == "energy") != (end is not None) or \
                (mode == "energy" and not isinstance(target, PairPotential)):
            raise PhasetuneError("mode 'energy' needs two LAMMPS potentials (target and end)")
        self.reference, self.target, self.mode = reference, target, mode
        self.temperature, self.settings = float(temperature), settings
        self.n_atoms = len(atoms)
        self.engine = Engine(label=label)
        self.step = 0
        self.lam = 1.0
        system = atoms.copy()
        system.positions = reference.positions
        if isinstance(target, PairPotential) and target.elements:
            if set(system.get_chemical_symbols()) <= set(target.elements):
                system.info = dict(system.info, types=list(target.elements))
        types = list(system.info.get("types") or dict.fromkeys(system.get_chemical_symbols()))
        harmonic_target = isinstance(target, HarmonicReference)
        energy_vars: list[str] = []
        if harmonic_target:
            pair_cmds = ["pair_style zero 1.0", "pair_coeff * *"]
        elif mode == "energy":
            known = set(self.engine.lmp.available_styles("pair"))
            mixed, computes = mixed_pair_commands(target, end, START_SCALE, LAMBDA_VAR, known)
            pair_cmds = [f"variable {START_SCALE} equal 1.0-v_{LAMBDA_VAR}", *mixed]
            for var, refs in zip((U_START, U_END), computes, strict=True):
                ids = [f"{var}_{k}" for k in range(len(refs))]
                energy_vars += [f"compute {i} all pair {r}" for i, r in zip(ids, refs,
                                                                             strict=True)]
                energy_vars.append(f"variable {var} equal {'+'.join(f'c_{i}' for i in ids)}")
        elif mode == "lambda":
            known = set(self.engine.lmp.available_styles("pair"))
            pair_cmds = scaled_pair_commands(target, LAMBDA_VAR, known)
        else:
            pair_cmds = target.commands()
        extra = ["compute pt_pair all pe pair", f"variable {STEP} equal step", *energy_vars]
        self.descriptor_variables: list[str] = []
        if descriptors is not None:
            cmds, self.descriptor_variables = descriptor_commands(descriptors, types, len(atoms))
            extra += cmds
        name = target.name
        self.engine.load_structure(system, [f"variable {LAMBDA_VAR} equal 1.0", *pair_cmds],
                                   extra=extra, context=f"setting up TI MD of {name}")
        self.callback: _HarmonicCallback | None = None
        if mode == "lambda" or harmonic_target:
            self._install_callback(target if harmonic_target else None)
        if harmonic_target:
            u_theta = f"f_{EXT_ID}[2]"
        elif mode == "lambda":
            u_theta = f"c_pt_pair/v_{LAMBDA_VAR}"
        elif mode == "energy":
            u_theta = "c_pt_pair"  # U_λ
        else:
            u_theta = "c_pt_pair"
        self.engine.commands([
            f"variable {U_THETA} equal {u_theta}",
            f"timestep {lammps_float(settings.timestep)}",
            "fix pt_nve all nve",
            f"fix pt_mom all momentum {settings.momentum_every} linear 1 1 1",
            "thermo 0",
        ])
        self.set_lambda(1.0)

    def _install_callback(self, harmonic_target: HarmonicReference | None) -> None:
        self.engine.command(f"fix {EXT_ID} all external pf/callback 1 1")
        self.engine.lmp.fix_external_set_vector_length(EXT_ID, 2)
        self.callback = _HarmonicCallback(self.engine, self.reference, harmonic_target)
        self.engine.lmp.set_fix_external_callback(EXT_ID, self.callback)
        self.engine.command(f"variable {U_HARMONIC} equal f_{EXT_ID}[1]")

    # -- state --------------------------------------------------------------------------------
    def set_lambda(self, lam: float) -> None:
        """Coupling λ ∈ [0, 1] of ``mode="lambda"`` (U_λ = λU_θ + (1 − λ)U_H) or
        ``mode="energy"`` (U_λ = (1 − λ)U_0 + λU_1; both ends allowed)."""
        if not 0.0 <= lam <= 1.0:
            raise PhasetuneError(f"λ = {lam} is outside [0, 1]")
        self.lam = float(lam)
        if self.mode == "energy":
            self.engine.command(f"variable {LAMBDA_VAR} equal {lammps_float(lam)}")
        elif self.mode == "lambda":
            if lam == 0.0 and not isinstance(self.target, HarmonicReference):
                raise PhasetuneError("λ = 0 exactly is not sampled by MD",
                                     "draw normal modes instead (Gauss–Legendre nodes are > 0)")
            self.engine.command(f"variable {LAMBDA_VAR} equal {lammps_float(lam)}")
            if self.callback is not None:
                self.callback.weights = (1.0 - lam, lam)
        elif self.callback is not None:
            self.callback.weights = (0.0, 1.0)

    def set_state(self, displacements: np.ndarray, velocities: np.ndarray) -> None:
        """Positions X0 + δX and velocities, (N, 3) each (Å, Å/ps, ASE frame); image flags reset.
        """
        self.engine.command("set group all image 0 0 0")
        self.engine.set_positions(self.reference.positions + displacements)
        self.engine.set_velocities(velocities)

    def positions(self) -> np.ndarray:
        """Current positions (N, 3) Å, wrapped into the cell."""
        return self.engine.positions()

    def set_thermostat(self, seed: int) -> None:
        """(Re)create the Langevin thermostat with ``seed``; it must follow every force fix."""
        if self.engine.lmp.has_id("fix", LANGEVIN_ID):
            self.engine.command(f"unfix {LANGEVIN_ID}")
        t = lammps_float(self.temperature)
        self.engine.command(f"fix {LANGEVIN_ID} all langevin {t} {t} "
                            f"{lammps_float(self.settings.damping)} {int(seed)} zero yes")

    # -- running ------------------------------------------------------------------------------
    def run(self, n_steps: int, record: Sequence[str] = (U_THETA,),
            check: Callable[[np.ndarray], None] | None = None,
            progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Run ``n_steps`` (a multiple of ``stride``), recording variables every ``stride`` steps.

        Args:
            record: equal-style variable names.
            check: called with the positions (N, 3) Å after every chunk (basin guard).
            progress: called with the number of steps done after every chunk.

        Returns:
            (n_records, 1 + len(record)): the step, then the recorded values, for every
            multiple of ``stride`` from the current step to the last (inclusive); nothing is
            recorded when ``record`` is empty.
        """
        stride, chunk = self.settings.stride, self.settings.chunk
        check_run_length(n_steps, stride)
        values = " ".join(f"v_{name}" for name in (STEP, *record))
        rows: list[np.ndarray] = []
        done = 0
        while done < n_steps:
            n = min(chunk, n_steps - done)
            if record:
                self.engine.command(f"fix {RECORD_ID} all vector {stride} {values}")
            self.engine.command(f"run {n} post no")
            if record:
                block = self._extract(len(record) + 1)
                self.engine.command(f"unfix {RECORD_ID}")
            else:
                block = np.empty((0, 1))
            if self.callback is not None and self.callback.error is not None:
                error, self.callback.error = self.callback.error, None
                raise EngineError(f"the harmonic force callback failed: {error!r}") from error
            if rows and len(rows[-1]):
                block = block[block[:, 0] > rows[-1][-1, 0]]
            rows.append(block)
            done += n
            self.step += n
            if check is not None:
                check(self.positions())
            if progress is not None:
                progress(n)
        return np.concatenate(rows)

    def _extract(self, n_cols: int) -> np.ndarray:
        return extract_vector_fix(self.engine, RECORD_ID, n_cols)

    def close(self) -> None:
        self.engine.close()


def extract_vector_fix(engine: Engine, fix_id: str, n_cols: int) -> np.ndarray:
    """The rows (n_rows, n_cols) stored so far by ``fix <fix_id> all vector …``."""
    from lammps import LMP_SIZE_ROWS, LMP_STYLE_GLOBAL, LMP_TYPE_ARRAY

    lmp = engine.lmp
    n_rows = int(lmp.extract_fix(fix_id, LMP_STYLE_GLOBAL, LMP_SIZE_ROWS, 0, 0))
    return np.array([[lmp.extract_fix(fix_id, LMP_STYLE_GLOBAL, LMP_TYPE_ARRAY, i, j)
                      for j in range(n_cols)] for i in range(n_rows)]).reshape(n_rows, n_cols)


def check_run_length(n_steps: int, stride: int) -> None:
    """Refuse a run that is not a whole number of recording strides."""
    if n_steps % stride:
        raise PhasetuneError(f"run length {n_steps} is not a multiple of stride {stride}")


def run_recorded(engine: Engine, record_id: str, n_steps: int, stride: int, chunk: int,
                 values: str, n_cols: int, run: Callable[[int], None],
                 after: Callable[[int, int], None]) -> np.ndarray:
    """Run ``n_steps`` in chunks of at most ``chunk`` steps, recording as it goes.

    Args:
        record_id: LAMMPS id of the ``fix vector`` that records.
        values: what the fix records every ``stride`` steps (step first); empty: nothing.
        n_cols: columns of a recorded row.
        run: runs ``n`` steps in the engine.
        after: called with (steps of this chunk, steps done so far) after every chunk.

    Returns:
        (n_records, n_cols): the recorded rows, each step once (none without ``values``).
    """
    rows: list[np.ndarray] = []
    done = 0
    while done < n_steps:
        n = min(chunk, n_steps - done)
        if values:
            engine.command(f"fix {record_id} all vector {stride} {values}")
        run(n)
        if values:
            block = extract_vector_fix(engine, record_id, n_cols)
            engine.command(f"unfix {record_id}")
            if rows and len(rows[-1]):
                block = block[block[:, 0] > rows[-1][-1, 0]]
            rows.append(block)
        done += n
        after(n, done)
    return np.concatenate(rows) if rows else np.empty((0, n_cols))


def lammps_seed(rng: np.random.Generator) -> int:
    """A positive LAMMPS random seed (< 9×10⁸) drawn from ``rng``."""
    return int(rng.integers(1, 900_000_000))

