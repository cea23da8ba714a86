"""LAMMPS ML-IAP neural-network potentials (``pair_style mliap model nn … descriptor sna …``).

A network maps each atom's SNAP bispectrum B_i (K,) to its energy ε_i (eV)::

    x⁰ = (B_i − scale0) / scale1                       (per element, (K,))
    xˡ = act_l(bˡ + Wˡ xˡ⁻¹)                           (layer l = 1 … L, n_l nodes)
    ε_i = x^L_0,      E = Σ_i ε_i  (+ any θ-independent overlay such as ZBL)

All elements share one architecture (the ``NET`` line); each element has its own scale0, scale1
and parameters.  The parameters of one element list, layer by layer and node by node,
[bias, w_1 … w_{n_{l−1}}], so an element holds Σ_l n_l (n_{l−1} + 1) numbers (n_0 = K).

File formats (``#`` starts a comment):

* model (``.mliap.model``): ``nelements nparams``; ``NET K L act_1 n_1 … act_L n_L``; then per
  element K scale0 numbers, K scale1 numbers and nparams coefficients, each block over as many
  lines as needed (LAMMPS reads at most 30 numbers per line).
* descriptor (``.mliap.descriptor``): ``key value…`` lines, the SNAP keys of a ``.snapparam`` file
  plus ``nelems``, ``elems``, ``radelems`` and ``welems``.

Parsing is strict where LAMMPS is lenient: an unknown activation (LAMMPS would use linear), a
block spilling into the next on one line (LAMMPS drops the rest of the line), or a non-finite
number raise :class:`PotentialError` naming the file and line.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import PotentialError
from .linear import DescriptorSpec, PairPotential, _is_number, checked_theta
from .snap_files import SNAP_PARAM_DEFAULTS, SnapParams, _content_lines, _header_comments

ACTIVATIONS = ("linear", "sigmoid", "tanh", "relu")
"""Activation functions of the LAMMPS nn model (sigmoid is 1/(1 + e^−x), relu max(0, x))."""
MAX_PER_LINE = 30
"""LAMMPS refuses model-file lines with more numbers than this."""
WRITE_PER_LINE = 5
DESCRIPTOR_PARAM_KEYS = ("rcutfac", "twojmax", "rfac0", "rmin0", "switchflag", "bzeroflag",
                         "bnormflag", "wselfallflag", "chemflag", "switchinnerflag")
"""The ``.snapparam`` keys an ML-IAP sna descriptor file accepts (others make LAMMPS fail)."""
ELEMENT_KEYS = ("nelems", "elems", "radelems", "welems")


def layer_param_counts(n_descriptors: int, layers: tuple[int, ...]) -> list[int]:
    """Parameters of each layer, n_l (n_{l−1} + 1), with n_0 = K = ``n_descriptors``."""
    sizes = (n_descriptors, *layers)
    return [sizes[i + 1] * (sizes[i] + 1) for i in range(len(layers))]


def _lines(path: Path) -> list[tuple[int, list[str]]]:
    """Content lines of ``path`` as (line number, words), comments and blank lines removed."""
    return [(number, line.split()) for number, line in _content_lines(path)]


def _float(word: str, where: str) -> float:
    try:
        value = float(word)
    except ValueError as exc:
        raise PotentialError(f"{where}: {word!r} is not a number",
                             "fix the file; every entry after the NET line is a number") from exc
    if not np.isfinite(value):
        raise PotentialError(f"{where}: {word!r} is not a finite number",
                             "replace it with the fitted value; a NaN or inf usually comes from "
                             "a failed fit or an interrupted write")
    return value


def _int(word: str, where: str, what: str) -> int:
    try:
        return int(word)
    except ValueError as exc:
        raise PotentialError(f"{where}: {what} {word!r} is not an integer") from exc


@dataclass(frozen=True)
class NetworkArchitecture:
    """The ``NET`` line: K inputs, then (activation, nodes) per layer; the last layer has 1 node.

    Attributes:
        n_descriptors: K.
        activations: activation of each layer (one of :data:`ACTIVATIONS`).
        layers: nodes of each layer, n_1 … n_L (n_L = 1).
    """

    n_descriptors: int
    activations: tuple[str, ...]
    layers: tuple[int, ...]

    @property
    def n_params(self) -> int:
        """Parameters of one element, Σ_l n_l (n_{l−1} + 1)."""
        return sum(layer_param_counts(self.n_descriptors, self.layers))

    def net_line(self) -> str:
        pairs = " ".join(f"{a} {n}" for a, n in zip(self.activations, self.layers, strict=True))
        return f"NET {self.n_descriptors} {len(self.layers)} {pairs}"

    def check(self, where: str = "") -> None:
        prefix = f"{where}: " if where else ""
        for a in self.activations:
            if a not in ACTIVATIONS:
                raise PotentialError(f"{prefix}unknown activation {a!r} (LAMMPS would silently "
                                     "use linear)", f"use one of {', '.join(ACTIVATIONS)}")
        if not self.layers or any(n < 1 for n in self.layers):
            raise PotentialError(f"{prefix}every layer needs at least one node, got "
                                 f"{list(self.layers)}")
        if self.layers[-1] != 1:
            raise PotentialError(f"{prefix}the output layer has {self.layers[-1]} nodes; the "
                                 "per-atom energy is one number", "end the network with a "
                                 "1-node layer (e.g. 'linear 1')")


@dataclass(frozen=True, eq=False)
class NNPotential:
    """An ML-IAP ``nn`` potential on SNAP descriptors (see module doc).

    Attributes:
        name: display name.
        spec: the descriptors (SNAP parameters, elements, radii, weights) and any θ-independent
            overlay (``fixed_style``/``fixed_coeffs``, e.g. ZBL).
        architecture: K, activations and nodes per layer (shared by all elements).
        scale0: (n_elements, K) input shifts, descriptor units.
        scale1: (n_elements, K) input scales, descriptor units.
        params: (n_elements, P_e) weights and biases per element in LAMMPS order, eV for the
            output layer.
        source: directory of the original files, or None.
        original: the LAMMPS form of the original files (used while θ is unchanged), or None.
        comments: header comment lines of the model file.
    """

    name: str
    spec: DescriptorSpec
    architecture: NetworkArchitecture
    scale0: np.ndarray
    scale1: np.ndarray
    params: np.ndarray
    source: Path | None = None
    original: PairPotential | None = None
    comments: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        arch, n_el = self.architecture, len(self.spec.elements)
        arch.check(self.name)
        k = self.spec.n_bispectrum
        if arch.n_descriptors != k:
            raise PotentialError(f"{self.name}: the network takes {arch.n_descriptors} "
                                 f"descriptors but twojmax {self.spec.params.twojmax} gives {k}",
                                 "use the descriptor file the network was fitted with")
        for what, arr, shape in (("scale0", self.scale0, (n_el, k)),
                                 ("scale1", self.scale1, (n_el, k)),
                                 ("params", self.params, (n_el, arch.n_params))):
            if np.shape(arr) != shape:
                raise PotentialError(f"{self.name}: {what} has shape {np.shape(arr)}, "
                                     f"expected {shape}")
            if not np.all(np.isfinite(arr)):
                raise PotentialError(f"{self.name}: {what} has non-finite values",
                                     "a NaN/inf cannot be written as a potential")
        if np.any(self.scale1 == 0):
            raise PotentialError(f"{self.name}: scale1 has zeros (the input is divided by it)",
                                 "use 1 for a descriptor that is not rescaled")
        for arr in (self.scale0, self.scale1, self.params):
            arr.flags.writeable = False

    # -- parameters ------------------------------------------------------------------------
    @property
    def elements(self) -> tuple[str, ...]:
        return self.spec.elements

    @property
    def n_descriptors(self) -> int:
        """K, bispectrum components per atom."""
        return self.architecture.n_descriptors

    @property
    def n_params(self) -> int:
        """P, the length of θ: parameters per element × elements."""
        return self.params.size

    @property
    def theta(self) -> np.ndarray:
        """θ (P,): all weights and biases, elements concatenated in descriptor-file order, each in
        LAMMPS order (layer, node, [bias, weights])."""
        return self.params.ravel().copy()

    def with_theta(self, theta: np.ndarray, name: str | None = None) -> NNPotential:
        """A copy with new θ (P,), same architecture, scales and overlay."""
        theta = checked_theta(theta, self.n_params, self.name)
        return NNPotential(name or f"{self.name}*", self.spec, self.architecture,
                           self.scale0.copy(), self.scale1.copy(),
                           theta.reshape(self.params.shape).copy(), self.source, None,
                           self.comments)

    # -- files -----------------------------------------------------------------------------
    def write(self, directory: str | Path, stem: str) -> dict[str, Path]:
        """Write ``stem.mliap.model``, ``stem.mliap.descriptor`` and a ``stem.mliap`` include
        (``pair_style``/``pair_coeff`` lines, the overlay kept) that LAMMPS reads from
        ``directory``; numbers in full precision, :data:`WRITE_PER_LINE` per line."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        paths = {"model": directory / f"{stem}.mliap.model",
                 "descriptor": directory / f"{stem}.mliap.descriptor",
                 "mliap": directory / f"{stem}.mliap"}
        write_model(paths["model"], self)
        write_descriptor(paths["descriptor"], self.spec)
        style, coeffs = self._commands(paths["model"].name, paths["descriptor"].name)
        lines = [f"# {self.name}: ML-IAP nn potential written by phasetune",
                 " ".join(("pair_style", *style))]
        lines += [" ".join(("pair_coeff", *c)) for c in coeffs]
        paths["mliap"].write_text("\n".join(lines) + "\n")
        return paths

    def _commands(self, model: str, descriptor: str
                  ) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
        mliap = ("mliap", "model", "nn", model, "descriptor", "sna", descriptor)
        if self.spec.has_fixed:
            style = ("hybrid/overlay", *self.spec.fixed_style, *mliap)
            coeffs = (*self.spec.fixed_coeffs, ("*", "*", "mliap", *self.elements))
        else:
            style, coeffs = mliap[1:], (("*", "*", *self.elements),)
            style = ("mliap", *style)
        return style, coeffs

    def pair_potential(self, workdir: str | Path) -> PairPotential:
        """The full potential as LAMMPS commands: the original files while θ is unchanged,
        otherwise files written into ``workdir`` (named by a hash of the contents)."""
        if self.original is not None:
            return self.original
        stem = f"pt_nn_{self.sha256[:12]}"
        paths = self.write(workdir, stem)
        files = (paths["model"].resolve(), paths["descriptor"].resolve())
        style, coeffs = self._commands(str(files[0]), str(files[1]))
        return PairPotential(self.name, self.elements, style, coeffs, files, cutoff=self.cutoff)

    @property
    def cutoff(self) -> float:
        """Largest interaction range, Å: the descriptor cutoff or a numeric overlay cutoff."""
        numeric = [float(w) for w in self.spec.fixed_style if _is_number(w)]
        return max([self.spec.cutoff, *numeric])

    @property
    def sha256(self) -> str:
        """Hash of the architecture, scales, parameters (exact bytes) and descriptor spec."""
        digest = hashlib.sha256(self.architecture.net_line().encode())
        for arr in (self.scale0, self.scale1, self.params):
            digest.update(np.ascontiguousarray(arr, dtype="<f8").tobytes())
        digest.update(self.spec.sha256.encode())
        return digest.hexdigest()

    def describe(self) -> dict:
        arch = self.architecture
        return {"name": self.name, "kind": "mliap-nn", "elements": list(self.elements),
                "net": arch.net_line(), "n_params": self.n_params,
                "descriptors": self.spec.as_dict(), "sha256": self.sha256}


# -- reading --------------------------------------------------------------------------------
def read_descriptor(path: str | Path, fixed_style: tuple[str, ...] = (),
                    fixed_coeffs: tuple = ()) -> DescriptorSpec:
    """Read an ML-IAP ``sna`` descriptor file into a :class:`DescriptorSpec`."""
    path = Path(path)
    values: dict[str, float | int] = {k: SNAP_PARAM_DEFAULTS[k] for k in DESCRIPTOR_PARAM_KEYS}
    seen: dict[str, tuple[int, list[str]]] = {}
    for number, words in _lines(path):
        key, rest = words[0], words[1:]
        where = f"{path}:{number}"
        if key in seen:
            raise PotentialError(f"{where}: {key} given twice (first on line {seen[key][0]})")
        if key in DESCRIPTOR_PARAM_KEYS:
            if len(rest) != 1:
                raise PotentialError(f"{where}: expected '{key} value', got {' '.join(words)!r}")
            value = _float(rest[0], f"{where}: {key}")
            if isinstance(SNAP_PARAM_DEFAULTS[key], int):
                value = _int(rest[0], where, key)
            values[key] = value
        elif key not in ELEMENT_KEYS:
            raise PotentialError(f"{where}: unknown ML-IAP sna keyword {key!r}",
                                 f"allowed: {', '.join(DESCRIPTOR_PARAM_KEYS + ELEMENT_KEYS)}")
        seen[key] = (number, rest)
    missing = [k for k in ("rcutfac", "twojmax", *ELEMENT_KEYS) if k not in seen]
    if missing:
        raise PotentialError(f"{path}: required keyword(s) missing: {', '.join(missing)}")
    n_number, n_words = seen["nelems"]
    if len(n_words) != 1:
        raise PotentialError(f"{path}:{n_number}: expected 'nelems N'")
    n_el = _int(n_words[0], f"{path}:{n_number}", "nelems")
    per = {}
    for key in ("elems", "radelems", "welems"):
        number, words = seen[key]
        if len(words) != n_el:
            raise PotentialError(f"{path}:{number}: {key} has {len(words)} entries, nelems is "
                                 f"{n_el}", f"give one {key} entry per element")
        per[key] = words if key == "elems" else [_float(w, f"{path}:{number}: {key}")
                                                 for w in words]
    params = SnapParams(values=values)
    params.check_supported(str(path))
    return DescriptorSpec(params=params, elements=tuple(per["elems"]),
                          radii=tuple(per["radelems"]), weights=tuple(per["welems"]),
                          fixed_style=tuple(fixed_style),
                          fixed_coeffs=tuple(tuple(c) for c in fixed_coeffs))


def read_model(path: str | Path, n_descriptors: int | None = None, n_elements: int | None = None
               ) -> tuple[NetworkArchitecture, np.ndarray, np.ndarray, np.ndarray]:
    """Read a ``.mliap.model`` nn file → (architecture, scale0, scale1, params), the arrays
    (n_elements, K), (n_elements, K), (n_elements, P_e).  ``n_descriptors`` and ``n_elements``
    (from the descriptor file), when given, are checked against the model."""
    path = Path(path)
    lines = _lines(path)
    if len(lines) < 2:
        raise PotentialError(f"{path}: needs a 'nelements nparams' line and a NET line",
                             "see the LAMMPS ML-IAP nn model format")
    number, words = lines[0]
    if len(words) != 2:
        raise PotentialError(f"{path}:{number}: expected 'nelements nparams', got "
                             f"{' '.join(words)!r}")
    n_el = _int(words[0], f"{path}:{number}", "nelements")
    n_params = _int(words[1], f"{path}:{number}", "nparams")
    if n_elements is not None and n_el != n_elements:
        raise PotentialError(f"{path}:{number}: {n_el} element(s) but the descriptor file has "
                             f"{n_elements}", "use the descriptor file of this model")
    number, words = lines[1]
    where = f"{path}:{number}"
    if words[0] != "NET":
        raise PotentialError(f"{where}: expected the NET line, got {' '.join(words)!r}",
                             "only the nn model ('NET K L act_1 n_1 …') is supported")
    if len(words) < 3:
        raise PotentialError(f"{where}: NET line needs K and the number of layers")
    k = _int(words[1], where, "ndescriptors")
    n_layers = _int(words[2], where, "nlayers")
    if len(words) != 3 + 2 * n_layers:
        raise PotentialError(f"{where}: {n_layers} layer(s) need {2 * n_layers} words "
                             f"'activation nodes' after 'NET {k} {n_layers}', got "
                             f"{len(words) - 3}")
    arch = NetworkArchitecture(k, tuple(words[3::2]),
                               tuple(_int(w, where, "nodes") for w in words[4::2]))
    arch.check(where)
    if n_descriptors is not None and k != n_descriptors:
        raise PotentialError(f"{where}: the network takes {k} descriptors but the descriptor "
                             f"file gives {n_descriptors}", "use the descriptor file the network "
                             "was fitted with (twojmax sets K)")
    if arch.n_params != n_params:
        counts = layer_param_counts(k, arch.layers)
        raise PotentialError(f"{path}:{lines[0][0]}: nparams is {n_params} but the layers of "
                             f"the NET line need {arch.n_params} ({' + '.join(map(str, counts))})",
                             "fix nparams or the NET line")
    blocks = [("scale0", k), ("scale1", k), ("coefficients", n_params)] * n_el
    values: list[list[float]] = []
    rest = lines[2:]
    pos = 0
    for b, (what, count) in enumerate(blocks):
        element = b // 3 + 1
        block: list[float] = []
        while len(block) < count:
            if pos >= len(rest):
                raise PotentialError(f"{path}: too few numbers: {what} of element {element} has "
                                     f"{len(block)} of {count} when the file ends",
                                     "the file is truncated or nparams/K is wrong")
            number, words = rest[pos]
            pos += 1
            where = f"{path}:{number}"
            if len(words) > MAX_PER_LINE:
                raise PotentialError(f"{where}: {len(words)} numbers on one line; LAMMPS reads "
                                     f"at most {MAX_PER_LINE}", "split the line")
            if len(block) + len(words) > count:
                raise PotentialError(f"{where}: too many numbers: {what} of element {element} "
                                     f"needs {count - len(block)} more, the line has "
                                     f"{len(words)}", "start each block on a new line and check "
                                     "K and nparams")
            block += [_float(w, f"{where}: {what} of element {element}") for w in words]
        values.append(block)
    if pos < len(rest):
        raise PotentialError(f"{path}:{rest[pos][0]}: too many numbers: the file continues "
                             f"after {n_el} element(s)", "check nelements and nparams")
    scale0 = np.array(values[0::3]).reshape(n_el, k)
    scale1 = np.array(values[1::3]).reshape(n_el, k)
    params = np.array(values[2::3]).reshape(n_el, n_params)
    zero = np.argwhere(scale1 == 0)
    if len(zero):
        raise PotentialError(f"{path}: scale1 of element {zero[0][0] + 1}, descriptor "
                             f"{zero[0][1] + 1}, is 0 (the input is divided by it)",
                             "use 1 for a descriptor that is not rescaled")
    return arch, scale0, scale1, params


def load_nn(model_path: str | Path, descriptor_path: str | Path,
            fixed_style: tuple[str, ...] = (), fixed_coeffs: tuple = (),
            elements: tuple[str, ...] | None = None, name: str | None = None,
            original: PairPotential | None = None) -> NNPotential:
    """An :class:`NNPotential` from a model and a descriptor file (``elements``, when given, are
    the ``pair_coeff`` elements and must be those of the descriptor file, in its order)."""
    model_path, descriptor_path = Path(model_path), Path(descriptor_path)
    spec = read_descriptor(descriptor_path, fixed_style, fixed_coeffs)
    if elements is not None and tuple(elements) != spec.elements:
        raise PotentialError(f"pair_coeff elements {' '.join(elements)} differ from the "
                             f"descriptor's {' '.join(spec.elements)} ({descriptor_path})",
                             "map one LAMMPS type per descriptor element, in its order")
    arch, s0, s1, params = read_model(model_path, spec.n_bispectrum, len(spec.elements))
    name = name or model_path.name.removesuffix(".model").removesuffix(".mliap")
    pot = NNPotential(name, spec, arch, s0, s1, params, model_path.parent, None,
                      tuple(_header_comments(model_path)))
    if original is None:
        style, coeffs = pot._commands(str(model_path.resolve()), str(descriptor_path.resolve()))
        original = PairPotential(name, spec.elements, style, coeffs,
                                 (model_path.resolve(), descriptor_path.resolve()), pot.cutoff)
    return NNPotential(name, spec, arch, s0, s1, params, model_path.parent, original,
                       pot.comments)


def split_mliap_style(words: list[str], where: str = "") -> tuple[list[str], list[str]]:
    """Split ``pair_style`` words into (the mliap words, the other sub-styles' words).

    The mliap words are ``mliap model STYLE FILE descriptor STYLE FILE`` (model and descriptor
    in either order)."""
    prefix = f"{where}: " if where else ""
    if "mliap" not in words:
        raise PotentialError(f"{prefix}no mliap pair style in {' '.join(words)!r}")
    start = words.index("mliap")
    end = start + 1
    while end < len(words) and words[end] in ("model", "descriptor"):
        end += 3
    mliap = words[start:end]
    if len(mliap) != 7 or sorted(mliap[1::3]) != ["descriptor", "model"]:
        raise PotentialError(f"{prefix}expected 'mliap model STYLE FILE descriptor STYLE FILE', "
                             f"got {' '.join(words[start:])!r}")
    others = words[:start] + words[end:]
    if others and others[0] == "hybrid/overlay":
        others = others[1:]
    return mliap, others


def mliap_parts(mliap: list[str]) -> dict[str, tuple[str, str]]:
    """{'model': (style, file), 'descriptor': (style, file)} of the words of
    :func:`split_mliap_style`."""
    return {mliap[i]: (mliap[i + 1], mliap[i + 2]) for i in (1, 4)}


def check_nn_model(model_style: str, descriptor_style: str, where: str) -> None:
    """Refuse ML-IAP models and descriptors other than ``nn`` on ``sna``."""
    if model_style != "nn":
        hint = ("use the .snap form (pair_style snap) of this SNAP potential"
                if model_style in ("linear", "quadratic") else
                "write the network as an ML-IAP nn model file (NET line, scales, weights)")
        raise PotentialError(
            f"{where}: ML-IAP model {model_style!r} is not supported yet (only 'nn')", hint)
    if descriptor_style != "sna":
        raise PotentialError(f"{where}: ML-IAP descriptor {descriptor_style!r} is not supported "
                             "(only 'sna', the SNAP bispectrum)",
                             "use a network fitted on sna descriptors")


# -- writing --------------------------------------------------------------------------------
def _number_lines(values: np.ndarray) -> list[str]:
    values = [repr(float(v)) for v in np.asarray(values, dtype=float).ravel()]
    return [" ".join(values[i:i + WRITE_PER_LINE]) for i in range(0, len(values),
                                                                   WRITE_PER_LINE)]


def write_model(path: str | Path, potential: NNPotential) -> None:
    """Write the ``.mliap.model`` file of ``potential`` (full precision, exact round trip)."""
    arch = potential.architecture
    lines = list(potential.comments) or [
        f"# {potential.name}: ML-IAP nn model written by phasetune"]
    lines += ["# nelements nparams", f"{len(potential.elements)} {arch.n_params}",
              "# NET ndescriptors nlayers activation_1 nodes_1 ...", arch.net_line()]
    for i, element in enumerate(potential.elements):
        lines += [f"# scale0 ({element})", *_number_lines(potential.scale0[i]),
                  f"# scale1 ({element})", *_number_lines(potential.scale1[i]),
                  f"# coefficients ({element}): per layer, per node [bias, weights]"]
        start = 0
        for count in layer_param_counts(arch.n_descriptors, arch.layers):
            lines += _number_lines(potential.params[i, start:start + count])
            start += count
    Path(path).write_text("\n".join(lines) + "\n")


def write_descriptor(path: str | Path, spec: DescriptorSpec) -> None:
    """Write an ML-IAP ``sna`` descriptor file for ``spec`` (only keys LAMMPS accepts)."""
    p = spec.params
    lines = ["# ML-IAP sna descriptor written by phasetune"]
    for key in DESCRIPTOR_PARAM_KEYS:
        value = p.values.get(key, SNAP_PARAM_DEFAULTS[key])
        lines.append(f"{key} {value!r}" if isinstance(value, float) else f"{key} {int(value)}")
    lines += [f"nelems {len(spec.elements)}", "elems " + " ".join(spec.elements),
              "radelems " + " ".join(repr(float(r)) for r in spec.radii),
              "welems " + " ".join(repr(float(w)) for w in spec.weights)]
    Path(path).write_text("\n".join(lines) + "\n")



def build_network(name: str, spec: DescriptorSpec, hidden: list[tuple[str, int]],
                  output: str = "linear", scale0: np.ndarray | None = None,
                  scale1: np.ndarray | None = None, seed: int = 0,
                  params: np.ndarray | None = None) -> NNPotential:
    """A new :class:`NNPotential` K → hidden… → 1 on ``spec``'s descriptors.

    Args:
        hidden: (activation, nodes) of each hidden layer.
        output: activation of the 1-node output layer.
        scale0, scale1: (n_elements, K) or (K,) input shift and scale (default 0 and 1).
        seed: seed of the random initial weights (uniform ±1/√fan-in, zero biases) when
            ``params`` (n_elements, P_e) is not given.
    """
    k, n_el = spec.n_bispectrum, len(spec.elements)
    arch = NetworkArchitecture(k, (*(a for a, _ in hidden), output),
                               (*(int(n) for _, n in hidden), 1))
    arch.check(name)
    s0 = np.broadcast_to(np.zeros(k) if scale0 is None else scale0, (n_el, k)).astype(float)
    s1 = np.broadcast_to(np.ones(k) if scale1 is None else scale1, (n_el, k)).astype(float)
    if params is None:
        rng = np.random.default_rng(seed)
        sizes = (k, *arch.layers)
        blocks = []
        for i in range(len(arch.layers)):
            w = rng.uniform(-1, 1, (n_el, sizes[i + 1], sizes[i])) / np.sqrt(sizes[i])
            blocks.append(np.concatenate([np.zeros((n_el, sizes[i + 1], 1)), w], axis=2)
                          .reshape(n_el, -1))
        params = np.concatenate(blocks, axis=1)
    return NNPotential(name, spec, arch, s0.copy(), s1.copy(),
                       np.array(params, dtype=float).reshape(n_el, arch.n_params))
