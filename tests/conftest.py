"""Shared fixtures: an isolated Hessian cache, the shared data folder, small crystals."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FE_DATA = SHARED / "data" / "descriptordos-fe"


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Hessians cached per test session, never in the user's home."""
    mp = pytest.MonkeyPatch()
    mp.setenv("PHASETUNE_CACHE", str(tmp_path_factory.mktemp("cache")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def fe_data() -> Path:
    if not FE_DATA.is_dir():
        pytest.skip(f"shared Fe data not found at {FE_DATA} (../shared is absent)")
    return FE_DATA


@pytest.fixture(scope="session")
def mo():
    from phasetune.potentials.registry import load_potential

    return load_potential("lammps:Mo_Chen_PRM2017")


@pytest.fixture(scope="session")
def w():
    from phasetune.potentials.registry import load_potential

    return load_potential("lammps:W_2940_2017_2")
