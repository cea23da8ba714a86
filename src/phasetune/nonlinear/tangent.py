"""Tangent descriptors: a non-linear potential made linear around θ0 (method.md §2.5).

For E(X; θ) = Σ_i ε(B_i(X); θ) with P parameters, the first-order expansion around θ0 is

    E_lin(X; θ) = E(X; θ0) + (θ − θ0)·∂E/∂θ|θ0 = N[θ·J(X) + r(X)],
    J(X) = (1/N) ∂E/∂θ|θ0                       (P,)  eV per unit θ, per atom
    r(X) = E(X; θ0)/N − θ0·J(X)                        eV/atom, θ-independent

so the D-DOS machinery applies unchanged with descriptors D_tan = (J_free, r): r is a *fixed*
component (coefficient 1), and the parameters whose J is the same constant in every
configuration (the output bias of a network: ∂E/∂b = N) are taken out of D and into the constant
β0_tan = Σ_c θ_c J_c.  At θ0, E_lin = E exactly; away from θ0 the curvature is corrected from MD
frames (:mod:`phasetune.tangent`).

:class:`TangentSpec` plays the role of a SNAP :class:`~phasetune.potentials.linear.DescriptorSpec`
in a campaign (same attributes), and :class:`TangentEvaluator` that of the descriptor evaluator.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
from ase import Atoms

from ..engine.calculators import SNA_ID, descriptor_pair_commands, sna_compute_command
from ..engine.session import Engine
from ..errors import PotentialError
from ..potentials.linear import DescriptorSpec, LinearPotential
from ..potentials.mliap import NNPotential
from .model import DescriptorModel, model_for

R_LABEL = "r = E(θ0)/N - θ0·J"


@dataclass(frozen=True)
class TangentSpec:
    """Tangent descriptors of ``model`` at ``theta0`` on the per-atom descriptors of ``base``.

    Attributes:
        base: the SNAP descriptor spec of the per-atom B_i (K,) the model reads.
        model: the per-atom energy model (picklable: it travels to campaign workers).
        theta0: (P,) the expansion point (the potential's own parameters).
        constant: (P,) bool, parameters whose J is the same in every configuration (taken into
            β0_tan, not into D).
        constant_values: (P,) J of those parameters (0 elsewhere), per atom.
        name: display name of the potential.
        model_sha256: hash of the architecture and θ0 (a tangent archive accepts only potentials
            of the same architecture, and records which θ0 it was expanded at).
        constant_r: r when it is the same in every configuration (a model linear in θ: r = β0),
            then folded into β0_tan instead of being a fixed component of D; else None.
    """

    base: DescriptorSpec
    model: DescriptorModel = field(compare=False)
    theta0: np.ndarray = field(compare=False)
    constant: np.ndarray = field(compare=False)
    constant_values: np.ndarray = field(compare=False)
    name: str = "tangent"
    model_sha256: str = ""
    constant_r: float | None = None

    def __post_init__(self) -> None:
        p = self.model.n_params
        for what in ("theta0", "constant", "constant_values"):
            if np.shape(getattr(self, what)) != (p,):
                raise PotentialError(f"tangent spec of {self.name}: {what} has shape "
                                     f"{np.shape(getattr(self, what))}, expected ({p},)")
        if len(self.base.elements) != 1:
            raise PotentialError(f"tangent descriptors of {self.name}: one element only "
                                 f"(got {', '.join(self.base.elements)})",
                                 "use a single-element potential")
        if self.model.n_descriptors != self.base.n_block:
            raise PotentialError(
                f"tangent spec of {self.name}: the model reads {self.model.n_descriptors} "
                f"descriptors per atom, the SNAP spec gives {self.base.n_block}",
                "use the descriptor file written with the model")

    # -- the DescriptorSpec interface used by campaigns and archives ---------------------------
    @property
    def params(self):
        return self.base.params

    @property
    def elements(self) -> tuple[str, ...]:
        return self.base.elements

    @property
    def quadratic(self) -> bool:
        return False

    @property
    def has_fixed(self) -> bool:
        """True unless r is constant (then D_tan holds only the J of the free parameters)."""
        return self.constant_r is None

    @property
    def free(self) -> np.ndarray:
        """(P,) bool: parameters carried by D_tan."""
        return ~np.asarray(self.constant, dtype=bool)

    @property
    def n_components(self) -> int:
        """N_D = (free parameters) + 1 (the fixed r, unless it is constant)."""
        return int(self.free.sum()) + int(self.has_fixed)

    @property
    def labels(self) -> list[str]:
        fixed = [R_LABEL] if self.has_fixed else []
        return [f"dE/dθ[{i}]" for i in np.flatnonzero(self.free)] + fixed

    @property
    def fixed_mask(self) -> np.ndarray:
        mask = np.zeros(self.n_components, dtype=bool)
        mask[-1] = self.has_fixed
        return mask

    @property
    def cutoff(self) -> float:
        return self.base.cutoff

    def as_dict(self) -> dict:
        base = self.base.as_dict()
        return {
            "kind": "tangent",
            "params": {**base["params"], "tangent_model_sha256": self.model_sha256},
            "elements": base["elements"], "radii": base["radii"], "weights": base["weights"],
            "fixed_style": [], "fixed_coeffs": [],
            "labels": self.labels,
            "tangent": {"name": self.name, "model_sha256": self.model_sha256,
                        "theta0": [float(v) for v in self.theta0],
                        "constant": [int(i) for i in np.flatnonzero(self.constant)],
                        "constant_values": [float(self.constant_values[i])
                                            for i in np.flatnonzero(self.constant)],
                        "constant_r": self.constant_r},
        }

    @property
    def sha256(self) -> str:
        return hashlib.sha256(repr(sorted(self.as_dict().items())).encode()).hexdigest()

    # -- descriptors ---------------------------------------------------------------------------
    def evaluator(self, atoms: Atoms, engine: Engine | None = None) -> TangentEvaluator:
        """The evaluator of these descriptors on configurations of ``atoms``."""
        return TangentEvaluator(atoms, self, engine)

    def descriptors(self, per_atom: np.ndarray, fixed: np.ndarray | None = None) -> np.ndarray:
        """D_tan (F, N_D) of frames with per-atom descriptors ``per_atom`` (F, N, K); ``fixed``
        (F,) is the θ-independent overlay energy per atom (e.g. ZBL), added to r."""
        b = np.asarray(per_atom, dtype=float)
        n = b.shape[1]
        energy, grad = self.model.energies_and_gradients(b, self.theta0)
        j = np.asarray(grad) / n
        r = np.asarray(energy) / n - j @ self.theta0
        if fixed is not None:
            r = r + np.asarray(fixed, dtype=float)
        const = np.asarray(self.constant, dtype=bool)
        if const.any() and not np.allclose(j[:, const], self.constant_values[const],
                                           rtol=0, atol=1e-10):
            raise PotentialError(f"tangent descriptors of {self.name}: a parameter taken as "
                                 "constant has a configuration-dependent gradient")
        if not self.has_fixed:
            if not np.allclose(r, self.constant_r, rtol=0, atol=1e-10):
                raise PotentialError(f"tangent descriptors of {self.name}: r taken as constant "
                                     "varies between configurations")
            return j[:, self.free]
        return np.concatenate([j[:, self.free], r[:, None]], axis=1)

    def beta0(self, theta: np.ndarray) -> np.ndarray:
        """β0_tan = Σ_c θ_c J_c, eV/atom, for θ (P,) or (M, P) → () or (M,)."""
        th = np.asarray(theta, dtype=float)
        return th[..., self.constant] @ self.constant_values[self.constant] + (self.constant_r or 0)

    def linear_theta(self, theta: np.ndarray) -> np.ndarray:
        """θ_tan (…, N_D): the free parameters then 1 for r (if r is a component)."""
        th = np.asarray(theta, dtype=float)
        ones = np.ones(th.shape[:-1] + (int(self.has_fixed),))
        return np.concatenate([th[..., self.free], ones], axis=-1)


def constant_parameters(model: DescriptorModel, per_atom: np.ndarray,
                        theta0: np.ndarray, atol: float = 1e-12
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Parameters whose per-atom gradient J is the same in every frame of ``per_atom`` (F, N, K),
    F ≥ 2 distinct configurations: ((P,) bool mask, (P,) their J values, 0 elsewhere)."""
    b = np.asarray(per_atom, dtype=float)
    _, grad = model.energies_and_gradients(b, theta0)
    j = np.asarray(grad) / b.shape[1]
    mask = np.all(np.abs(j - j[0]) <= atol * np.maximum(1.0, np.abs(j[0])), axis=0)
    return mask, np.where(mask, j[0], 0.0)


class TangentEvaluator:
    """D_tan(X), (N_D,), of a :class:`TangentSpec` on configurations of ``atoms`` (the
    counterpart of :class:`~phasetune.engine.calculators.DescriptorEvaluator`): LAMMPS gives the
    per-atom B_i, the model gives J and r."""

    def __init__(self, atoms: Atoms, spec: TangentSpec, engine: Engine | None = None):
        self.atoms = atoms.copy()
        self.atoms.info = dict(atoms.info, types=list(spec.elements))
        self.spec = spec
        self.engine = engine or Engine()
        structure = atoms.info.get("structure", atoms.get_chemical_formula())
        self.engine.load_structure(
            self.atoms, descriptor_pair_commands(spec.base),
            extra=[sna_compute_command(spec.base)],
            context=f"setting up {structure} ({len(atoms)} atoms) for tangent descriptors")
        self.n_atoms = len(atoms)

    def per_atom(self, positions: np.ndarray | None = None) -> tuple[np.ndarray, float]:
        """(B_i (N, K), the overlay energy per atom, eV) at ``positions`` (N, 3) Å."""
        self.engine.evaluate(positions)
        fixed = self.engine.energy() / self.n_atoms if self.spec.base.has_fixed else 0.0
        return self.engine.per_atom_compute(SNA_ID), fixed

    def descriptors(self, positions: np.ndarray | None = None) -> np.ndarray:
        """D_tan (N_D,) at ``positions`` (N, 3) Å."""
        per_atom, fixed = self.per_atom(positions)
        return self.spec.descriptors(per_atom[None], np.array([fixed]))[0]

    def batch(self, positions: np.ndarray) -> np.ndarray:
        """D_tan (B, N_D) of configurations (B, N, 3) Å (one model call for the batch)."""
        if len(positions) == 0:
            return np.empty((0, self.spec.n_components))
        rows = [self.per_atom(x) for x in positions]
        return self.spec.descriptors(np.stack([b for b, _ in rows]),
                                     np.array([f for _, f in rows]))


def tangent_spec(potential) -> TangentSpec:
    """The tangent descriptors of ``potential`` at its own parameters θ0.

    ``potential``: an ML-IAP nn potential (:class:`~phasetune.potentials.mliap.NNPotential`),
    or a single-element linear SNAP potential (then J = D exactly and r = β0: the analytic test
    of the route).
    """
    if isinstance(potential, LinearPotential) and (potential.spec.has_fixed
                                                   or potential.spec.quadratic):
        raise PotentialError(f"tangent descriptors of {potential.name}: plain linear SNAP only "
                             "(no overlay, not quadratic)")
    if not isinstance(potential, LinearPotential | NNPotential):
        raise PotentialError(f"{potential.name} is neither an ML-IAP nn nor a SNAP potential",
                             "give an .mliap nn file (descriptors.tangent)")
    model, theta0 = model_for(potential)
    base = potential.spec
    if isinstance(potential, NNPotential):
        scale0, scale1 = potential.scale0[0], potential.scale1[0]
    else:
        scale0, scale1 = np.zeros(model.n_descriptors), np.ones(model.n_descriptors)
    probe = np.random.default_rng(0).normal(size=(4, 6, model.n_descriptors))
    probe = scale0 + scale1 * probe
    constant, values = constant_parameters(model, probe, theta0)
    energy, grad = model.energies_and_gradients(probe, theta0)
    r = energy / probe.shape[1] - grad @ theta0 / probe.shape[1]
    constant_r = float(r[0]) if np.allclose(r, r[0], rtol=0, atol=1e-12) \
        and not base.has_fixed else None
    return TangentSpec(base=base, model=model, theta0=theta0, constant=constant,
                       constant_values=values, name=potential.name,
                       model_sha256=model_sha256(potential, theta0), constant_r=constant_r)


def model_sha256(potential, theta0: np.ndarray) -> str:
    """The hash a tangent archive records of its model: what it requires of a potential besides
    θ (its descriptors and, for a network, its architecture and input scales) and the expansion
    point θ0 (P,)."""
    parts = [repr(sorted(potential.spec.as_dict().items()))]
    if isinstance(potential, NNPotential):
        parts += [potential.architecture.net_line(), potential.scale0.tobytes().hex(),
                  potential.scale1.tobytes().hex()]
    digest = hashlib.sha256("\n".join(parts).encode())
    digest.update(np.asarray(theta0, dtype=float).tobytes())
    return digest.hexdigest()
