"""``tune.yaml``: what to tune, towards which targets, with which regulariser (validated).

Example::

    archives: [fe.h5]                 # one or more archives holding the phases
    potential: X_Fe.snapcoeff         # θ0 and β0; written back tuned
    targets:
      - transition: {low: bcc, high: fcc, T: 1063}
      - delta_F: {a: fcc, b: bcc, T: 1000, value_meV: 5}     # or shift_meV: -10
      # with P (GPa) on any target, every target is at pressure (G instead of F), from phases
      # sampled at several volumes; e.g. one line at two pressures and a lattice volume:
      # - transition: {low: bcc, high: fcc, T: 1185, P: 0}
      # - transition: {low: bcc, high: fcc, T: 1100, P: 5}
      # - volume: {phase: bcc, T: 300, P: 0, value: 11.78}   # Å³/atom
      # - expansion: {phase: bcc, T: [300, 900], P: 0, value: 3.6e-5}   # 1/K, mean α_V
      # - melting: {solid: bcc, T: 2896, P: 0}   # T_m (K) with a liquid phase; modes: 3N-3
    regulariser:
      kind: gram                      # gram (training design) or ridge
      training: train.extxyz          # optional; default: generated from the potential itself
      n_per_phase: 8
      ridge: 1.0e-6                   # relative ridge added to the metric diagonal
    constraints: [keep_delta_E0]      # optional
    max_iter: 10
    trust_radius: null
    route: score                      # or cumulant (second-order; no support limits), or
                                      # reweight (non-linear potentials, below)
    output: tuned/                    # directory for the tuned potential, report and plot

A non-linear potential (ML-IAP nn) is tuned by reweighting MD frames of θ0, re-sampled when the
effective sample size runs out (no archives; ΔF and transition targets at the frames' T), or
by the tangent D-DOS of a ``descriptors.tangent`` archive (``route: tangent``, ``archives:
[TANGENT.h5]``, optional ``tangent: {frames: {bcc: frames.h5}, tolerance_meV: 1}``)::

    potential: Mo_nn.mliap
    route: reweight
    reweight:
      phases: {bcc: bcc_1500K.yaml, a15: a15_1500K.yaml}   # `phasetune reweight sample` configs
      anchors: {bcc: ti_bcc.json, a15: ti_a15.json}       # TI of θ0 (needed for transitions)
      min_ess: 0.5
      max_rounds: 4
    targets:
      - delta_F: {a: a15, b: bcc, T: 1500, shift_meV: 5}
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import ConfigError
from ..yamlconfig import load_yaml_model, resolve_path


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TransitionSpec(_Strict):
    low: str
    high: str
    T: float = Field(gt=0)
    P: float | None = None
    """GPa; None: at the fixed sampled volume."""


class DeltaFSpec(_Strict):
    """ΔF(a − b, T) equal to ``value_meV``, or to its current value plus ``shift_meV``."""

    a: str
    b: str
    T: float = Field(gt=0)
    value_meV: float | None = None
    shift_meV: float | None = None
    tolerance_meV: float = Field(default=0.05, gt=0)
    P: float | None = None

    @model_validator(mode="after")
    def _value_or_shift(self):
        if (self.value_meV is None) == (self.shift_meV is None):
            raise ValueError("give exactly one of value_meV and shift_meV")
        return self


class VolumeSpec(_Strict):
    """V*(phase, T, P) equal to ``value`` Å³/atom."""

    phase: str
    T: float = Field(gt=0)
    P: float = 0.0
    value: float = Field(gt=0)
    tolerance: float = Field(default=1e-4, gt=0)


class ExpansionSpec(_Strict):
    """Mean volumetric thermal expansion ln(V*(T2)/V*(T1))/(T2 − T1) equal to ``value`` 1/K."""

    phase: str
    T: tuple[float, float]
    P: float = 0.0
    value: float

    @model_validator(mode="after")
    def _range(self):
        if not 0 < self.T[0] < self.T[1]:
            raise ValueError("T must be two temperatures [T1, T2] with 0 < T1 < T2 (K)")
        return self


class MeltingSpec(_Strict):
    """T_m(solid → liquid, P) equal to ``T`` K (phases at several volumes, a liquid among them;
    G includes the free centre-of-mass terms, method.md §8, "Melting")."""

    solid: str
    liquid: str = "liquid"
    T: float = Field(gt=0)
    P: float = 0.0


KINDS = ("transition", "delta_F", "volume", "expansion", "melting")


class TargetSpec(_Strict):
    transition: TransitionSpec | None = None
    delta_F: DeltaFSpec | None = None
    volume: VolumeSpec | None = None
    expansion: ExpansionSpec | None = None
    melting: MeltingSpec | None = None

    @model_validator(mode="after")
    def _one(self):
        given = [k for k in KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("each target is exactly one of 'transition', 'delta_F', 'volume', "
                             "'expansion' or 'melting'")
        return self

    def pressure(self) -> float | None:
        """The target's pressure in GPa (None: fixed volume)."""
        return next(getattr(self, k).P for k in KINDS if getattr(self, k) is not None)


class RegulariserSpec(_Strict):
    kind: Literal["gram", "ridge"] = "gram"
    training: Path | None = None
    n_per_phase: int = Field(default=8, ge=1)
    ridge: float = Field(default=1e-6, ge=0)
    energy_sigma: float = Field(default=1e-3, gt=0)
    force_sigma: float = Field(default=0.05, gt=0)


class ReweightSpec(_Strict):
    """``route: reweight``: each phase a ``phasetune reweight sample`` configuration of θ0 (at
    the targets' temperature), optional TI anchors of θ0 per phase, the ESS guard and the
    number of re-sampling rounds."""

    phases: dict[str, Path] = Field(min_length=1)
    anchors: dict[str, Path] = {}
    min_ess: float = Field(default=0.5, gt=0, le=1)
    max_rounds: int = Field(default=4, ge=1)


class TangentSpec(_Strict):
    """``route: tangent``: frames of θ0 per phase (``phasetune reweight sample`` stores at the
    targets' temperature) for the curvature correction, and the validated range."""

    frames: dict[str, Path] = {}
    tolerance_meV: float = Field(default=1.0, gt=0)


class TuneSpec(_Strict):
    archives: list[Path] = []
    potential: str
    targets: list[TargetSpec] = Field(min_length=1)
    regulariser: RegulariserSpec = RegulariserSpec()
    constraints: list[Literal["keep_delta_E0"]] = []
    max_iter: int = Field(default=10, ge=1)
    trust_radius: float | None = Field(default=None, gt=0)
    modes: Literal["3N", "3N-3"] = "3N"
    degree: int = Field(default=4, ge=2, le=8)
    route: Literal["score", "cumulant", "reweight", "tangent"] = "score"
    reweight: ReweightSpec | None = None
    tangent: TangentSpec = TangentSpec()

    @model_validator(mode="before")
    @classmethod
    def _archives_needed(cls, data):
        if isinstance(data, dict) and data.get("route", "score") != "reweight" \
                and not data.get("archives"):
            raise ValueError(f"archives: at least one archive is needed for route "
                             f"{data.get('route', 'score')} (the D-DOS archives holding the "
                             "phases)")
        return data
    output: Path = Path("tuned")
    name: str | None = None


def load_tune_spec(path: str | Path) -> TuneSpec:
    """Read and validate a tune YAML; relative paths resolve against its directory."""
    path = Path(path)
    spec = load_yaml_model(path, TuneSpec, "tune", "the example in phasetune.tuning.spec")
    at_pressure = [t.pressure() is not None for t in spec.targets]
    if any(at_pressure) and not all(at_pressure):
        k = at_pressure.index(False)
        raise ConfigError(f"{path}: targets[{k}] has no P while other targets do",
                          "give P (GPa) for every target, or for none")
    if any(at_pressure) and "keep_delta_E0" in spec.constraints:
        raise ConfigError(f"{path}: constraints: keep_delta_E0 is defined at one volume; it "
                          "cannot be combined with targets at pressure",
                          "drop the constraint or the targets' P")
    if spec.route == "reweight" and spec.reweight is None:
        raise ConfigError(f"{path}: route reweight needs a 'reweight:' section",
                          "give reweight: {phases: {NAME: sample.yaml, …}}")
    base = path.parent
    spec.archives = [resolve_path(a, base) for a in spec.archives]
    if spec.reweight is not None:
        rw = spec.reweight
        rw.phases = {k: resolve_path(v, base) for k, v in rw.phases.items()}
        rw.anchors = {k: resolve_path(v, base) for k, v in rw.anchors.items()}
        unknown = sorted(set(rw.anchors) - set(rw.phases))
        if unknown:
            raise ConfigError(f"{path}: reweight.anchors names phases {unknown} that are not "
                              "in reweight.phases")
    spec.tangent.frames = {k: resolve_path(v, base) for k, v in spec.tangent.frames.items()}
    if spec.regulariser.training is not None:
        spec.regulariser.training = resolve_path(spec.regulariser.training, base)
    spec.output = resolve_path(spec.output, base)
    if not spec.potential.startswith("lammps:"):
        spec.potential = str(resolve_path(Path(spec.potential), base))
    return spec



