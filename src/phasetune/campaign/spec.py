"""The campaign file: one YAML document, validated, with relative paths resolved.

:func:`load_campaign` reads and validates it (unknown keys are rejected; every error names the key
path and, where there is a choice, the allowed values) and returns a :class:`CampaignSpec`.
The shell grid made from it is :func:`phasetune.campaign.isosurfaces.isosurface_grid`.  The full
schema is documented in ``docs/campaign.md``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PositiveFloat,
    PositiveInt,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..errors import ConfigError, PhasetuneError
from ..potentials.linear import DescriptorSpec, LinearPotential, PairPotential
from ..structures.crystals import STRUCTURES, element_mass


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _resolve(value: str | None, info: ValidationInfo) -> str | None:
    """``lammps:NAME`` unchanged; a relative path resolved against the YAML file's directory."""
    if value is None or value.startswith("lammps:"):
        return value
    base = Path((info.context or {}).get("base_dir", "."))
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())


MAX_SPAN = 0.25
"""Largest |span| of a generated volume grid (fraction of the volume)."""
_PERCENT = re.compile(r"^\s*([+-]?\d+(?:\.\d*)?|[+-]?\.\d+)\s*%\s*$")


def _fraction(value: Any) -> float:
    """-0.04, '-4 %' or '-4%' → -0.04."""
    if isinstance(value, bool):
        raise ValueError("give a fraction such as -0.04 or a percentage such as '-4 %'")
    if isinstance(value, (int, float)):
        return float(value)
    match = _PERCENT.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError("give a fraction such as -0.04 or a percentage such as '-4 %'")
    return float(match.group(1)) / 100.0


class VolumeGridSpec(_Model):
    """A generated volume grid: ``count`` volumes covering the reference's equilibrium volumes
    V*(P, T) over ``pressures`` (GPa) and the isosurface temperatures, widened by ``span``
    (docs/campaign.md, "Generated volumes")."""

    around: Literal["equilibrium"] = "equilibrium"
    span: tuple[float, float] = (-0.02, 0.02)
    count: int = Field(ge=1)
    pressures: list[float] | None = Field(default=None, min_length=1)
    thermal: Literal["hessian", "slater", "none"] = "hessian"

    @field_validator("span", mode="before")
    @classmethod
    def _span(cls, value: Any) -> tuple[float, float]:
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise ValueError("give [low, high], e.g. [-4 %, +6 %] or [-0.04, 0.06]")
        lo, hi = (_fraction(v) for v in value)
        if not lo <= 0.0 <= hi:
            raise ValueError("the span must bracket 0 ([low ≤ 0, high ≥ 0]): it widens the "
                             "range of equilibrium volumes, it cannot move away from it")
        if max(-lo, hi) > MAX_SPAN:
            raise ValueError(f"|span| must be at most {MAX_SPAN:g} ({MAX_SPAN:.0%})")
        return lo, hi

    @model_validator(mode="after")
    def _enough_volumes(self) -> VolumeGridSpec:
        if self.pressures is not None and self.count < 2:
            raise ValueError("count must be ≥ 2 when pressures are requested (one volume "
                             "cannot give a pressure)")
        return self

    @property
    def pressure_range(self) -> tuple[float, float]:
        """(P_lo, P_hi), GPa (0 when no pressures are requested)."""
        values = self.pressures or [0.0]
        return min(values), max(values)


def _volumes_kind(value: Any) -> str | None:
    if isinstance(value, (dict, VolumeGridSpec)):
        return "tag:grid"
    return "tag:list" if isinstance(value, (list, tuple)) else None


VolumesField = Annotated[
    Annotated[list[PositiveFloat], Field(min_length=1), Tag("tag:list")]
    | Annotated[VolumeGridSpec, Tag("tag:grid")],
    Discriminator(_volumes_kind, custom_error_type="volumes_kind",
                  custom_error_message="give a list of volumes (Å³/atom) or a mapping such as "
                                       "{around: equilibrium, span: [-4 %, +6 %], count: 7}")]


class LiquidSpec(_Model):
    """A liquid phase (issue 15): kinetic shells of the melted reference (method.md §4.6).

    The phase's ``structure`` and ``cells`` give the cell, the atom count and the energy origin
    (the lattice's E0_ref and D0 at each volume); every chunk melts that lattice at
    ``melt_temperature`` (K) for ``melt_steps`` Langevin steps, then places the liquid on its shell.
    Shell temperatures map to energies as ε(T) = 3k_BT + ``energy_offset`` (eV/atom above the
    lattice: the liquid's excess energy, ≈ the heat of fusion plus the anharmonic energy at T).
    A chunk whose structure factor at the lattice's first Bragg peak exceeds ``max_order``
    (S(k)/N: ≈ 0.5–1 for a crystal, a few /N for a liquid) crystallised and fails with a message
    naming the shell.
    """

    melt_temperature: PositiveFloat
    melt_steps: PositiveInt = 2000
    energy_offset: float = Field(default=0.0, ge=0.0)
    max_order: float = Field(default=0.3, gt=0.0, lt=1.0)
    temperatures: tuple[PositiveFloat, PositiveFloat] | None = None
    """The liquid's own shell range [T_lo, T_hi] (K), instead of ``isosurfaces.temperatures``."""
    cover: float = Field(default=1.1, ge=1.0)
    """The liquid's grid cover (instead of ``isosurfaces.cover``: a supercooled liquid far below
    its range crystallises, so the liquid's grid stays close to it)."""

    @field_validator("temperatures")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not value[0] < value[1]:
            raise ValueError("the range must be [T_lo, T_hi] with T_lo < T_hi")
        return value

    def settings(self) -> dict[str, float]:
        """What the liquid sampler needs (melting and the crystallisation check)."""
        return {"melt_temperature": float(self.melt_temperature),
                "melt_steps": int(self.melt_steps), "max_order": float(self.max_order)}


class PhaseSpec(_Model):
    """One crystal phase sampled at one or more volumes (listed, or a generated grid that
    :func:`phasetune.campaign.volume_grid.resolve_volume_grids` turns into a list); with
    ``liquid``, the liquid made by melting that crystal (kinetic flavour only)."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.+-]+$")
    structure: Literal[STRUCTURES]  # type: ignore[valid-type]
    element: str
    cells: tuple[int, int, int] = (1, 1, 1)
    volumes: VolumesField | None = Field(default=None)
    lattice_constants: list[PositiveFloat] | None = Field(default=None, min_length=1)
    covera: PositiveFloat | None = None
    mass: PositiveFloat | None = None
    liquid: LiquidSpec | None = None

    @field_validator("cells", mode="before")
    @classmethod
    def _cells(cls, value: Any) -> tuple[int, int, int]:
        reps = [value] * 3 if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(reps, (list, tuple)) or len(reps) != 3 or not all(
                isinstance(r, int) and not isinstance(r, bool) and r >= 1 for r in reps):
            raise ValueError("give a positive integer or a list of three positive integers")
        return tuple(reps)

    @field_validator("element")
    @classmethod
    def _known_element(cls, value: str) -> str:
        try:
            element_mass(value)
        except PhasetuneError as exc:
            raise ValueError("unknown element; use a chemical symbol such as Mo") from exc
        return value

    @model_validator(mode="after")
    def _one_volume_kind(self) -> PhaseSpec:
        if (self.volumes is None) == (self.lattice_constants is None):
            raise ValueError("give exactly one of 'volumes' (Å³/atom) and 'lattice_constants' (Å)")
        if self.generated:
            return self
        values = self.volumes or self.lattice_constants or []
        if len(set(values)) != len(values):
            raise ValueError("volumes/lattice constants must be distinct")
        return self

    @property
    def generated(self) -> bool:
        """``volumes`` is a grid still to be resolved (a mapping, not a list)."""
        return isinstance(self.volumes, VolumeGridSpec)

    def crystal_kwargs(self) -> list[dict[str, Any]]:
        """Keyword arguments of :func:`~phasetune.structures.crystals.crystal`, one per volume."""
        if self.generated:
            raise ConfigError(f"phase {self.name}: its generated volumes are not resolved yet",
                              "call phasetune.campaign.volume_grid.resolve_volume_grids")
        key = "volume" if self.volumes is not None else "lattice_constant"
        base = {"cells": self.cells, "covera": self.covera, "mass": self.mass}
        return [{key: v, **base} for v in (self.volumes or self.lattice_constants or [])]


class ReferenceSpec(_Model):
    """The reference potential: it defines the lattice, the Hessian and the isosurfaces only."""

    potential: str
    element: str | None = None

    _paths = field_validator("potential")(_resolve)


class DescriptorsSpec(_Model):
    """The descriptors sampled: a linear potential's spec, explicit SNAP parameters, or the
    tangent descriptors of a non-linear potential (``tangent``: an ML-IAP nn file; see
    :mod:`phasetune.nonlinear.tangent`)."""

    potential: str | None = None
    tangent: str | None = None
    snapparam: str | None = None
    params: dict[str, float] | None = None
    elements: list[str] | None = None
    radii: list[PositiveFloat] | None = None
    weights: list[PositiveFloat] | None = None

    _paths = field_validator("potential", "snapparam", "tangent")(_resolve)

    @model_validator(mode="after")
    def _one_source(self) -> DescriptorsSpec:
        keys = ("potential", "snapparam", "params", "tangent")
        sources = [k for k in keys if getattr(self, k) is not None]
        if len(sources) != 1:
            raise ValueError("give exactly one of 'potential', 'snapparam', 'params' or "
                             f"'tangent' (got {', '.join(sources) or 'none'})")
        explicit = sources[0] in ("snapparam", "params")
        if explicit and not (self.elements and self.radii and self.weights):
            raise ValueError(f"'{sources[0]}' needs 'elements', 'radii' and 'weights'")
        if explicit and not len(self.elements) == len(self.radii) == len(self.weights):
            raise ValueError("'elements', 'radii' and 'weights' must have the same length")
        return self


class IsosurfaceSpec(_Model):
    """Shells from the temperatures the results will be asked for (method.md §4.3).

    The grid covers α_H(T_lo/cover) … α_H(cover·T_hi) uniformly in α: with ``count`` shells
    exactly, or with ``spacing`` on the fixed lattice α = kΔα (so that widening the range later
    adds shells and keeps the existing ones).
    """

    temperatures: tuple[PositiveFloat, PositiveFloat]
    count: int | None = Field(default=None, ge=2)
    spacing: PositiveFloat | None = None
    cover: float = Field(default=1.5, ge=1.0)

    @field_validator("temperatures")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not value[0] < value[1]:
            raise ValueError("the range must be [T_lo, T_hi] with T_lo < T_hi")
        return value

    @model_validator(mode="after")
    def _count_or_spacing(self) -> IsosurfaceSpec:
        if (self.count is None) == (self.spacing is None):
            raise ValueError("give exactly one of 'count' and 'spacing'")
        return self


class SamplesSpec(_Model):
    """Samples per shell, cut into chunks (the unit of parallel work and of commits)."""

    per_isosurface: PositiveInt
    chunk: PositiveInt = 50
    pilot: PositiveInt | None = None

    @property
    def n_chunks(self) -> int:
        """Chunks per shell: per_isosurface rounded up to whole chunks."""
        return -(-self.per_isosurface // self.chunk)


class ExecutorSpec(_Model):
    kind: Literal["local", "mpi", "dask"] = "local"
    workers: PositiveInt | None = None
    scheduler: str | None = None


class KineticSpec(_Model):
    """NVE settings of the kinetic flavour (method.md §4.5)."""

    timestep: PositiveFloat = 0.001
    stride: PositiveInt = 20
    equilibration: PositiveInt = 200


class CampaignSpec(_Model):
    """A validated campaign; see ``docs/campaign.md`` for every key."""

    phases: list[PhaseSpec] = Field(min_length=1)
    reference: ReferenceSpec
    descriptors: DescriptorsSpec | None = None
    flavour: Literal["hessian", "kinetic"] = "hessian"
    isosurfaces: IsosurfaceSpec
    samples: SamplesSpec
    seed: int = Field(ge=0)
    archive: str
    executor: ExecutorSpec = ExecutorSpec()
    kinetic: KineticSpec = KineticSpec()
    store_raw: bool = True
    hessian_step: PositiveFloat = 1e-3
    reference_energy: Literal["auto", "always", "never"] = "auto"
    min_distance: float = Field(default=0.5, gt=0.0, lt=1.0)
    commit_interval: PositiveFloat = 30.0

    _paths = field_validator("archive")(_resolve)

    @model_validator(mode="after")
    def _unique_phases(self) -> CampaignSpec:
        names = [p.name for p in self.phases]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"phase names must be unique: {', '.join(dupes)} repeated")
        return self

    @model_validator(mode="after")
    def _liquid_is_kinetic(self) -> CampaignSpec:
        liquid = [p.name for p in self.phases if p.liquid is not None]
        if liquid and self.flavour != "kinetic":
            raise ValueError(f"phase {liquid[0]} is a liquid: liquids need flavour: kinetic "
                             "(no harmonic reference describes a liquid)")
        return self

    @property
    def archive_path(self) -> Path:
        return Path(self.archive)


# -- loading --------------------------------------------------------------------------------------
def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not str(part).startswith(("function-", "literal[", "tag:")):
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The model class whose fields live at ``loc`` (for listing allowed keys)."""
    model: Any = CampaignSpec
    for part in loc:
        if isinstance(part, int) or str(part).startswith("tag:"):
            continue
        field = model.model_fields.get(part) if model else None
        if field is None:
            return None
        model = _inner_model(field.annotation)
        if model is None:
            return None
    return model


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    """The first BaseModel inside an annotation (through unions, lists and Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _message(error: dict) -> str:
    loc = error["loc"]
    where = _loc(loc)
    kind = error["type"]
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = ", ".join(model.model_fields) if model else "see docs/campaign.md"
        return f"{where}: unknown key; allowed keys here: {allowed}"
    if kind == "missing":
        return f"{where}: required key is missing"
    if kind == "literal_error":
        return f"{where}: {error['input']!r} is not allowed; allowed values: " \
               f"{error['ctx']['expected']}"
    msg = error["msg"].removeprefix("Value error, ")
    shown = error.get("input")
    got = f" (got {shown!r})" if shown is not None and not isinstance(shown, dict) else ""
    return f"{where}: {msg}{got}"


def _reduce(errors: list[dict]) -> list[str]:
    """One message per key; union alternatives (int | [int, int, int]) collapse to the first."""
    seen: dict[str, str] = {}
    for error in errors:
        text = _message(error)
        seen.setdefault(text.split(":", 1)[0], text)
    return list(seen.values())


def parse_campaign(data: Any, base_dir: str | Path = ".", source: str = "campaign") \
        -> CampaignSpec:
    """Validate a campaign mapping; relative paths resolve against ``base_dir``.

    Raises:
        ConfigError: naming every offending key and, where relevant, the allowed values.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the campaign must be a YAML mapping of keys to values")
    try:
        spec = CampaignSpec.model_validate(data, context={"base_dir": str(base_dir)})
    except ValidationError as exc:
        lines = _reduce(exc.errors())
        raise ConfigError(f"{source}: " + "; ".join(lines),
                          "see docs/campaign.md for every key") from None
    check_potentials(spec, source)
    return spec


def load_campaign(path: str | Path) -> CampaignSpec:
    """Read and validate a campaign YAML file (also resolves the potentials to check them)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"campaign file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return parse_campaign(data, path.resolve().parent, str(path))


# -- potentials -----------------------------------------------------------------------------------
def reference_potential(spec: CampaignSpec) -> PairPotential | LinearPotential:
    """The reference potential (``reference.potential``)."""
    from ..potentials.registry import load_potential

    try:
        return load_potential(spec.reference.potential, spec.reference.element)
    except PhasetuneError as exc:
        raise ConfigError(f"reference.potential: {exc.message}", exc.hint) from None


def descriptor_spec(spec: CampaignSpec) -> DescriptorSpec:
    """The descriptor spec: ``descriptors`` (a :class:`~phasetune.nonlinear.tangent.TangentSpec`
    for ``descriptors.tangent``), or the reference's own if it is linear."""
    from ..potentials.registry import load_potential
    from ..potentials.snap_files import SNAP_PARAM_DEFAULTS, SnapParams

    d = spec.descriptors
    if d is None:
        ref = reference_potential(spec)
        if not isinstance(ref, LinearPotential):
            raise ConfigError(
                f"descriptors: required, because the reference {ref.name} is not a linear "
                "(SNAP) potential", "give descriptors.potential or descriptors.snapparam")
        return ref.spec
    if d.tangent is not None:
        from ..nonlinear.tangent import tangent_spec

        try:
            return tangent_spec(load_potential(d.tangent))
        except PhasetuneError as exc:
            raise ConfigError(f"descriptors.tangent: {exc.message}", exc.hint) from None
    key = "descriptors.potential" if d.potential else "descriptors.snapparam"
    try:
        if d.potential is not None:
            pot = load_potential(d.potential)
            if not isinstance(pot, LinearPotential):
                raise ConfigError(f"descriptors.potential: {pot.name} is not a linear "
                                  "(SNAP) potential")
            return pot.spec
        if d.snapparam is not None:
            params = SnapParams.read(d.snapparam)
        else:
            key = "descriptors.params"
            params = SnapParams(values={**SNAP_PARAM_DEFAULTS, **(d.params or {})})
        params.check_supported(key)
        for required in ("rcutfac", "twojmax"):
            if not np.isfinite(float(params.values[required])) or params[required] < 0:
                raise ConfigError(f"{key}: '{required}' is required")
        params.values["twojmax"] = int(params.values["twojmax"])
    except ConfigError:
        raise
    except PhasetuneError as exc:
        raise ConfigError(f"{key}: {exc.message}", exc.hint) from None
    return DescriptorSpec(params=params, elements=tuple(d.elements or ()),
                          radii=tuple(d.radii or ()), weights=tuple(d.weights or ()))


def check_potentials(spec: CampaignSpec, source: str = "campaign") -> None:
    """Resolve both potentials and check that every phase's element is covered."""
    try:
        ref = reference_potential(spec)
        desc = descriptor_spec(spec)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc.message}", exc.hint) from None
    for i, phase in enumerate(spec.phases):
        for what, elements in (("reference.potential", ref.elements),
                               ("descriptors", desc.elements)):
            if elements and phase.element not in elements:
                raise ConfigError(
                    f"{source}: phases[{i}].element: {phase.element} is not covered by "
                    f"{what} (elements {', '.join(elements)})",
                    f"set phases[{i}].element to one of {', '.join(elements)}, or use a "
                    "potential for this element")
    cutoff = ref.cutoff or desc.cutoff
    for i, phase in enumerate(spec.phases):
        if not phase.generated:  # generated grids are checked once resolved
            check_phase_cells(phase, cutoff, f"{source}: phases[{i}]")


def check_phase_cells(phase: PhaseSpec, cutoff: float, where: str) -> None:
    """Every volume's supercell must be wider than ``cutoff`` (Å, the reference's interaction
    range) in every direction; the error's fix is the ``cells:`` value to write in the YAML."""
    from ..structures.crystals import crystal, minimum_cells, perpendicular_widths

    for kwargs in phase.crystal_kwargs():
        try:
            atoms = crystal(phase.structure, phase.element, **kwargs)
        except PhasetuneError as exc:
            raise ConfigError(f"{where}: {exc.message}", exc.hint) from None
        widths = perpendicular_widths(atoms.cell)
        if np.all(widths > cutoff):
            continue
        need = minimum_cells(atoms, cutoff)
        value = kwargs.get("volume", kwargs.get("lattice_constant"))
        raise ConfigError(
            f"{where}.cells: {list(phase.cells)} is too small at {value:g} "
            f"{'Å³/atom' if 'volume' in kwargs else 'Å'}: cell widths "
            f"{np.round(widths, 3).tolist()} Å, but the reference potential's cutoff is "
            f"{cutoff:.3f} Å (an atom would see its own periodic image)",
            f"set cells: {list(need)} for phase {phase.name}" if need else
            "use more cells")
