"""Exception hierarchy.  Every error names the problem and, in ``hint``, the fix."""

from __future__ import annotations


class PhasetuneError(Exception):
    """Base class: a user-facing error with a one-line message and a fix."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} (fix: {self.hint})"
        return self.message


class EngineError(PhasetuneError):
    """LAMMPS could not be loaded, or a LAMMPS command failed."""


class PotentialError(PhasetuneError):
    """A potential file is missing, malformed or inconsistent."""


class StructureError(PhasetuneError):
    """A structure cannot be built as requested."""


class UnstableLatticeError(PhasetuneError):
    """The Hessian of the reference has negative modes: the lattice is not a stable minimum."""


class ConfigError(PhasetuneError):
    """A YAML configuration is invalid."""


class ArchiveError(PhasetuneError):
    """An archive is missing, corrupted, of an unknown version or incompatible."""


class StorageError(PhasetuneError):
    """A file cannot be written (read-only folder, disk full, quota); nothing was replaced."""


class EstimatorError(PhasetuneError):
    """The estimator cannot produce the requested quantity."""


class LiquidCrystallisedError(PhasetuneError):
    """A liquid (a TI run or a campaign's liquid shell) crystallised: nothing is returned."""


class CrystalMeltedError(PhasetuneError):
    """A crystal (a kinetic shell, a TI run) lost its long-range order: it melted."""
