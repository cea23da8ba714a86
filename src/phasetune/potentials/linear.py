"""Potentials as phasetune sees them.

* :class:`PairPotential` — any LAMMPS pair style (EAM, MEAM, SNAP, …) given as commands and files;
  used as a *reference* (it defines isosurfaces and Hessians) or for TI.
* :class:`LinearPotential` — a potential linear in descriptors, E(X) = N[β0 + θ·D(X)] exactly:
  θ are the SNAP coefficients without the constant β0, and any θ-independent part (a ZBL overlay,
  or any other pair sub-style) is one extra descriptor component E_fix/N with coefficient 1.
  Quadratic SNAP is linear in its coefficients too: its per-element block of D holds the K
  bispectrum components followed by the K(K+1)/2 per-atom products (see
  :mod:`~phasetune.potentials.quadratic`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import PotentialError
from .quadratic import product_count, product_labels
from .snap_files import SnapCoeff, SnapParams, bispectrum_count, bispectrum_labels

FIXED_LABEL = "E_fixed/N"
DESCRIPTOR_KEYS = ("rcutfac", "twojmax", "rfac0", "rmin0", "switchflag", "bzeroflag",
                   "quadraticflag", "bnormflag", "wselfallflag")
"""SNAP hyper-parameters that change the descriptors (chunking settings do not)."""


def _sha256(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for p in paths:
        digest.update(p.name.encode())
        digest.update(p.read_bytes())
    return digest.hexdigest()


def checked_theta(theta, n_params: int, name: str) -> np.ndarray:
    """θ as a float (n_params,) array; a wrong shape or a NaN/inf is a :class:`PotentialError`
    naming the potential (θ that cannot be written as a potential file)."""
    theta = np.asarray(theta, dtype=float)
    if theta.shape != (n_params,):
        raise PotentialError(f"θ has shape {theta.shape}, expected ({n_params},) for {name}")
    if not np.all(np.isfinite(theta)):
        bad = np.flatnonzero(~np.isfinite(theta))
        raise PotentialError(
            f"θ for {name} has non-finite values at component(s) "
            f"{', '.join(map(str, bad[:5].tolist()))}",
            "a NaN/inf θ cannot be written as a potential; check what produced it")
    return theta


@dataclass(frozen=True)
class PairPotential:
    """Any LAMMPS potential: ``pair_style`` words, ``pair_coeff`` lines and the files they read.

    Attributes:
        name: display name.
        elements: element of each LAMMPS atom type (type 1 first).
        pair_style: words after ``pair_style``.
        pair_coeffs: each ``pair_coeff`` line's words (file names as absolute paths).
        files: files the commands read (hashed for provenance).
        cutoff: interaction cutoff in Å (for cell-size checks), or None if unknown.
    """

    name: str
    elements: tuple[str, ...]
    pair_style: tuple[str, ...]
    pair_coeffs: tuple[tuple[str, ...], ...]
    files: tuple[Path, ...] = ()
    cutoff: float | None = None

    def commands(self) -> list[str]:
        """LAMMPS commands defining this potential."""
        return [" ".join(("pair_style", *self.pair_style))] + [
            " ".join(("pair_coeff", *c)) for c in self.pair_coeffs
        ]

    @property
    def sha256(self) -> str:
        """Hash of the commands and the contents of every file."""
        digest = hashlib.sha256("\n".join(self.commands()).encode())
        digest.update(_sha256(list(self.files)).encode())
        return digest.hexdigest()

    def describe(self) -> dict:
        return {"name": self.name, "commands": self.commands(), "sha256": self.sha256,
                "elements": list(self.elements)}


@dataclass(frozen=True)
class DescriptorSpec:
    """SNAP descriptor specification: what ``compute sna/atom`` must compute.

    Attributes:
        params: the ``.snapparam`` values.
        elements: element names in type order.
        radii: (n_elements,) radius per element (the coeff-file ``radelem``), Å.
        weights: (n_elements,) neighbour weight per element.
        fixed_style: words of θ-independent pair sub-styles (e.g. ``("zbl", "4", "4.8")``).
        fixed_coeffs: their ``pair_coeff`` lines.
    """

    params: SnapParams
    elements: tuple[str, ...]
    radii: tuple[float, ...]
    weights: tuple[float, ...]
    fixed_style: tuple[str, ...] = ()
    fixed_coeffs: tuple[tuple[str, ...], ...] = ()

    @property
    def n_bispectrum(self) -> int:
        """K: bispectrum components of one atom."""
        return bispectrum_count(self.params.twojmax)

    @property
    def quadratic(self) -> bool:
        """Quadratic SNAP: each element block adds the K(K+1)/2 per-atom products."""
        return self.params.quadratic

    @property
    def n_block(self) -> int:
        """Components per element block: K, or K + K(K+1)/2 for quadratic SNAP."""
        k = self.n_bispectrum
        return k + product_count(k) if self.quadratic else k

    @property
    def has_fixed(self) -> bool:
        return bool(self.fixed_style)

    @property
    def n_components(self) -> int:
        """N_D: components per element block × elements, plus one fixed component if any."""
        return len(self.elements) * self.n_block + int(self.has_fixed)

    @property
    def labels(self) -> list[str]:
        base = bispectrum_labels(self.params.twojmax)
        if self.quadratic:
            base = base + product_labels(base)
        if len(self.elements) == 1:
            labels = base
        else:
            labels = [f"{e}:{b}" for e in self.elements for b in base]
        return labels + ([FIXED_LABEL] if self.has_fixed else [])

    @property
    def fixed_mask(self) -> np.ndarray:
        mask = np.zeros(self.n_components, dtype=bool)
        if self.has_fixed:
            mask[-1] = True
        return mask

    @property
    def cutoff(self) -> float:
        """Neighbour cutoff of the descriptors, Å: rcutfac·(R_i + R_j) maximised over pairs."""
        return 2.0 * self.params.rcutfac * max(self.radii)

    def as_dict(self) -> dict:
        return {
            "kind": "snap",
            "params": {k: v for k, v in self.params.values.items()},
            "elements": list(self.elements),
            "radii": list(self.radii),
            "weights": list(self.weights),
            "fixed_style": list(self.fixed_style),
            "fixed_coeffs": [list(c) for c in self.fixed_coeffs],
            "labels": self.labels,
        }

    @property
    def sha256(self) -> str:
        return hashlib.sha256(repr(sorted(self.as_dict().items())).encode()).hexdigest()

    def compatible_with(self, other: DescriptorSpec) -> str | None:
        """None when both specs compute the same descriptors, else the first difference."""
        a, b = self.as_dict(), other.as_dict()
        if b["kind"] != a["kind"]:
            return f"kind: {a['kind']} vs {b['kind']}"
        for key in ("params", "elements", "radii", "weights", "fixed_style", "fixed_coeffs"):
            if key == "params":
                for k in DESCRIPTOR_KEYS:
                    if a["params"].get(k) != b["params"].get(k):
                        return f"{k}: {a['params'].get(k)} vs {b['params'].get(k)}"
            elif a[key] != b[key]:
                return f"{key}: {a[key]} vs {b[key]}"
        return None


@dataclass(frozen=True)
class LinearPotential:
    """A SNAP potential E(X) = N[β0 + θ·D(X)] (plus a fixed overlay folded into θ·D); linear or
    quadratic SNAP (then θ holds the β_k and the α_kl, D the B_k and their per-atom products).

    Attributes:
        name: display name.
        spec: descriptor specification (N_D components).
        coeff: the coefficient file contents (β0 and β per element).
        source: directory of the original files (for provenance), or None.
    """

    name: str
    spec: DescriptorSpec
    coeff: SnapCoeff
    source: Path | None = None
    original: PairPotential | None = None

    @property
    def elements(self) -> tuple[str, ...]:
        return self.spec.elements

    @property
    def theta(self) -> np.ndarray:
        """θ, (N_D,) in eV per descriptor unit: β without constants, 1 for the fixed component."""
        blocks = [self.coeff.element(e).coefficients[1:] for e in self.spec.elements]
        fixed = [np.ones(1)] if self.spec.has_fixed else []
        return np.concatenate(blocks + fixed)

    def beta0(self, composition: dict[str, float] | None = None) -> float:
        """β0, eV/atom: the constant per element averaged over ``composition`` (fractions)."""
        if composition is None:
            if len(self.elements) != 1:
                raise PotentialError("β0 of a multi-element potential needs a composition")
            composition = {self.elements[0]: 1.0}
        return float(sum(f * self.coeff.element(e).coefficients[0]
                         for e, f in composition.items()))

    def with_theta(self, theta: np.ndarray, name: str | None = None) -> LinearPotential:
        """A copy with new θ (N_D,); fixed components must stay 1."""
        theta = checked_theta(theta, self.spec.n_components, self.name)
        if not np.allclose(theta[self.spec.fixed_mask], 1.0):
            raise PotentialError("the fixed (θ-independent) component of θ must equal 1")
        nb = self.spec.n_block
        elements = []
        for k, e in enumerate(self.spec.elements):
            old = self.coeff.element(e)
            coeffs = np.concatenate([[old.coefficients[0]], theta[k * nb:(k + 1) * nb]])
            elements.append(replace(old, coefficients=coeffs))
        coeff = replace(self.coeff, elements=elements)
        return replace(self, coeff=coeff, name=name or f"{self.name}*", original=None)

    def write(self, directory: str | Path, stem: str) -> dict[str, Path]:
        """Write ``stem.snapcoeff``, ``stem.snapparam`` and a ``stem.snap`` include that LAMMPS
        loads as is (with the fixed overlay unchanged).  Returns the paths."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = {
            "snapcoeff": directory / f"{stem}.snapcoeff",
            "snapparam": directory / f"{stem}.snapparam",
            "snap": directory / f"{stem}.snap",
        }
        self.coeff.write(paths["snapcoeff"])
        self.spec.params.write(paths["snapparam"])
        elems = " ".join(self.elements)
        snap_coeff = f"pair_coeff * * snap {stem}.snapcoeff {stem}.snapparam {elems}"
        if self.spec.has_fixed:
            lines = [f"pair_style hybrid/overlay {' '.join(self.spec.fixed_style)} snap"]
            lines += ["pair_coeff " + " ".join(c) for c in self.spec.fixed_coeffs]
            lines.append(snap_coeff)
        else:
            lines = ["pair_style snap", snap_coeff.replace(" snap ", " ", 1)]
        kind = "quadratic" if self.spec.quadratic else "linear"
        header = f"# {self.name}: {kind} SNAP potential written by phasetune"
        paths["snap"].write_text(header + "\n" + "\n".join(lines) + "\n")
        return paths

    def pair_potential(self, workdir: str | Path) -> PairPotential:
        """The full potential as LAMMPS commands.

        The original files when θ is unchanged; otherwise new files written into ``workdir``.
        """
        if self.original is not None:
            return self.original
        workdir = Path(workdir)
        stem = hashlib.sha256(self.theta.tobytes()).hexdigest()[:12]
        paths = self.write(workdir, f"pt_{stem}")
        files = (paths["snapcoeff"], paths["snapparam"])
        coeff_words = ("*", "*", *(str(p) for p in files), *self.elements)
        if self.spec.has_fixed:
            style = ("hybrid/overlay", *self.spec.fixed_style, "snap")
            coeffs = (*self.spec.fixed_coeffs, ("*", "*", "snap", *coeff_words[2:]))
        else:
            style = ("snap",)
            coeffs = (coeff_words,)
        return PairPotential(self.name, self.elements, style, coeffs, files,
                             cutoff=self.cutoff)

    @property
    def cutoff(self) -> float:
        """Largest interaction range, Å: the descriptor cutoff or a numeric fixed-style cutoff."""
        numeric = [float(w) for w in self.spec.fixed_style if _is_number(w)]
        return max([self.spec.cutoff, *numeric])


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def pair_form(potential, workdir: str | Path) -> PairPotential:
    """The LAMMPS form of any potential: a :class:`PairPotential` as is; a linear (SNAP) or
    ML-IAP nn potential by its ``pair_potential`` (files written into ``workdir`` if its θ
    differs from its files)."""
    if isinstance(potential, PairPotential):
        return potential
    if hasattr(potential, "pair_potential"):
        return potential.pair_potential(workdir)
    raise PotentialError(f"a {type(potential).__name__} has no LAMMPS form",
                         "give a SNAP, ML-IAP nn or other LAMMPS (pair) potential")
