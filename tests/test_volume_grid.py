"""Generated volume grids: the Birch–Murnaghan fit, equilibrium volumes of Mo_Chen_PRM2017, the
`volumes:` mapping of the campaign file and its freezing in the archive."""

from __future__ import annotations

import copy
import shutil
import tempfile

import numpy as np
import pytest
import yaml

from phasetune.archive.hdf5 import read_archive
from phasetune.campaign import volume_grid
from phasetune.campaign.runner import run_campaign
from phasetune.campaign.spec import load_campaign, parse_campaign
from phasetune.constants import GPA_TO_EV_PER_A3, KB
from phasetune.errors import ConfigError, PhasetuneError
from phasetune.harmonic.eos import fit_birch_murnaghan
from phasetune.harmonic.equilibrium import StaticEnergy, equilibrium_volumes
from phasetune.potentials.registry import lammps_potentials_dir, load_potential
from phasetune.structures.crystals import crystal

V0, B0, B0P, E0 = 15.8, 260.0 * GPA_TO_EV_PER_A3, 4.3, -10.9


def bm3_energy(v):
    """Third-order Birch–Murnaghan E(V), eV/atom."""
    f = (V0 / v) ** (2 / 3) - 1
    return E0 + 9 * V0 * B0 / 16 * (f ** 3 * B0P + f ** 2 * (6 - 4 * (V0 / v) ** (2 / 3)))


def bm3_pressure(v):
    eta = (V0 / v) ** (1 / 3)
    return 1.5 * B0 * (eta ** 7 - eta ** 5) * (1 + 0.75 * (B0P - 4) * (eta ** 2 - 1))


def test_birch_murnaghan_fit_recovers_v0_b0_and_pressures():
    v = np.linspace(14.5, 17.5, 9)
    fit = fit_birch_murnaghan(v, bm3_energy(v))
    assert fit.rms < 1e-10
    assert fit.v0 == pytest.approx(V0, rel=1e-9)
    assert fit.bulk_modulus(fit.v0) == pytest.approx(B0, rel=1e-7)
    assert fit.bulk_modulus_derivative(fit.v0) == pytest.approx(B0P, rel=1e-6)
    assert fit.energy(16.3) == pytest.approx(bm3_energy(16.3), abs=1e-10)
    for p_gpa in (-2.0, 5.0, 20.0):
        p = p_gpa * GPA_TO_EV_PER_A3
        vp = fit.volume_at(p)
        assert bm3_pressure(vp) == pytest.approx(p, abs=1e-9)
    # a thermal pressure r k_B T γ/V expands the lattice: P_static(V*) + 3 k_B T γ/V* = P
    thermal = 3 * KB * 1000.0 * 1.8
    vt = fit.volume_at(0.0, thermal)
    assert vt > V0 and bm3_pressure(vt) + thermal / vt == pytest.approx(0.0, abs=1e-9)


def test_birch_murnaghan_fit_on_noisy_data_and_too_few_points():
    rng = np.random.default_rng(0)
    v = np.linspace(14.8, 16.8, 15)
    fit = fit_birch_murnaghan(v, bm3_energy(v) + rng.normal(0, 1e-5, v.size))
    assert fit.v0 == pytest.approx(V0, rel=2e-4)
    assert fit.bulk_modulus(fit.v0) / GPA_TO_EV_PER_A3 == pytest.approx(260, rel=0.02)
    with pytest.raises(PhasetuneError, match="≥ 5 distinct volumes"):
        fit_birch_murnaghan(v[:4], bm3_energy(v[:4]))
    with pytest.raises(PhasetuneError, match="no stable volume"):
        fit.volume_at(-1e3 * GPA_TO_EV_PER_A3)


@pytest.fixture(scope="module")
def mo_pot():
    return load_potential("lammps:Mo_Chen_PRM2017")


def test_mo_bcc_static_equilibrium(mo_pot):
    """V0 of Mo_Chen_PRM2017 BCC is a minimum of the measured E(V): a ≈ 3.160 Å, V ≈ 15.78."""
    atoms = crystal("bcc", "Mo", volume=16.5, cells=2)  # 16 atoms, from a volume off by 4 %
    eq = equilibrium_volumes(mo_pot, atoms, [0.0, 10.0], [300.0, 1500.0], thermal="hessian")
    v0 = eq.v0[0]
    assert (2 * v0) ** (1 / 3) == pytest.approx(3.160, abs=0.002)
    with tempfile.TemporaryDirectory() as workdir:
        energy = StaticEnergy(atoms, mo_pot, workdir)
        e = [energy(v0 * s) for s in (0.995, 1.0, 1.005)]
        h = 0.02 * v0
        curvature = (energy(v0 + h) - 2 * e[1] + energy(v0 - h)) / h ** 2
    assert e[1] < e[0] and e[1] < e[2]
    assert eq.b0[0] == pytest.approx(v0 * curvature / GPA_TO_EV_PER_A3, rel=0.02)
    assert 240 < eq.b0[0] < 280 and eq.b0[1] > eq.b0[0]
    assert eq.v0[1] < v0  # compressed at 10 GPa
    assert 1.0 < eq.gruneisen < 3.0
    # V* grows with T and shrinks with P
    assert np.all(np.diff(eq.volumes, axis=1) > 0) and np.all(eq.volumes[1] < eq.volumes[0])
    assert eq.volumes[0, 0] > v0


BASE = {
    "phases": [{"name": "bcc", "structure": "bcc", "element": "Mo", "cells": 2,
                "volumes": {"around": "equilibrium", "span": ["-4 %", "+6 %"], "count": 5,
                            "pressures": [0, 10]}}],
    "reference": {"potential": "lammps:Mo_Chen_PRM2017"},
    "isosurfaces": {"temperatures": [300, 1000], "count": 2},
    "samples": {"per_isosurface": 10, "chunk": 10, "pilot": 10},
    "seed": 1,
    "archive": "out/mo.h5",
}


def test_generated_grid_brackets_the_equilibrium_volume():
    spec = parse_campaign(copy.deepcopy(BASE), "/tmp")
    assert spec.phases[0].generated
    with pytest.raises(ConfigError, match="not resolved"):
        spec.phases[0].crystal_kwargs()
    resolved, records = volume_grid.resolve_volume_grids(spec)
    volumes = resolved.phases[0].volumes
    assert len(volumes) == 5 and np.all(np.diff(volumes) > 0)
    record = records["bcc"]
    lo, hi = record["covered"]  # V*(10 GPa, 300 K) … V*(0 GPa, 1000 K)
    assert volumes[0] == pytest.approx(0.96 * lo, abs=1e-4)
    assert volumes[-1] == pytest.approx(1.06 * hi, abs=1e-4)
    assert volumes[0] < 15.78 < volumes[-1]
    assert record["equation_of_state"]["V0"][0] == pytest.approx(15.78, abs=0.02)
    assert [k["volume"] for k in resolved.phases[0].crystal_kwargs()] == volumes


@pytest.mark.parametrize(("grid", "expected"), [
    ({"count": 1, "pressures": [0, 5]}, ["phases[0].volumes:", "count must be ≥ 2"]),
    ({"count": 3, "span": [0.01, 0.05]}, ["phases[0].volumes.span", "bracket 0"]),
    ({"count": 3, "span": ["-4 pc", 0.05]}, ["phases[0].volumes.span", "'-4 %'"]),
    ({"count": 3, "span": [-0.5, 0.05]}, ["phases[0].volumes.span", "at most 0.25"]),
    ({"count": 3, "around": "minimum"}, ["phases[0].volumes.around", "'equilibrium'"]),
    ({"count": 3, "thermal": "debye"}, ["phases[0].volumes.thermal", "'slater'"]),
    ({"count": 3, "colour": 1}, ["phases[0].volumes.colour", "unknown key", "around, span"]),
    ({"span": [-0.04, 0.06]}, ["phases[0].volumes.count", "missing"]),
    ("15.9", ["phases[0].volumes:", "a list of volumes", "or a mapping"]),
])
def test_grid_validation_errors_are_one_line(grid, expected):
    data = copy.deepcopy(BASE)
    data["phases"][0]["volumes"] = grid
    with pytest.raises(ConfigError) as info:
        parse_campaign(data, "/tmp")
    message = str(info.value)
    assert "\n" not in message
    for part in expected:
        assert part in message, message


def test_explicit_volume_lists_are_unchanged():
    data = copy.deepcopy(BASE)
    data["phases"][0]["volumes"] = [15.9, 16.2]
    spec = parse_campaign(data, "/tmp")
    assert not spec.phases[0].generated and spec.phases[0].volumes == [15.9, 16.2]
    same, records = volume_grid.resolve_volume_grids(spec)
    assert records == {} and same.phases == spec.phases


def _copied_mo(tmp_path):
    base = lammps_potentials_dir()
    for suffix in (".snap", ".snapcoeff", ".snapparam"):
        shutil.copy(base / f"Mo_Chen_PRM2017{suffix}", tmp_path / f"Mo_Chen_PRM2017{suffix}")
    return tmp_path / "Mo_Chen_PRM2017.snap"


def _write(tmp_path, data):
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_generated_volumes_are_frozen_in_the_archive(tmp_path, monkeypatch):
    data = copy.deepcopy(BASE)
    data["phases"][0]["volumes"].update(count=2, pressures=[0, 5])
    data["reference"]["potential"] = str(_copied_mo(tmp_path))
    path = _write(tmp_path, data)
    first = run_campaign(load_campaign(path), workers=1, quiet=True)
    assert first.complete
    volumes = first.volume_grids["bcc"]["volumes"]
    archive = read_archive(tmp_path / "out" / "mo.h5")
    assert archive.metadata["sampler"]["volume_grids"]["bcc"]["volumes"] == volumes
    assert sorted(pv.reference.volume for pv in archive.phase_volumes) == pytest.approx(volumes)

    # a resume reuses the recorded volumes: nothing is re-derived
    def no_generation(*args, **kwargs):
        raise AssertionError("the grid was re-derived on resume")

    monkeypatch.setattr(volume_grid, "generate", no_generation)
    data["isosurfaces"]["count"] = 3  # extending the campaign keeps the volumes
    again = run_campaign(load_campaign(_write(tmp_path, data)), workers=1, quiet=True)
    assert again.complete and again.volume_grids["bcc"]["volumes"] == volumes
    assert len(read_archive(tmp_path / "out" / "mo.h5").phase_volumes) == 2

    # another grid request is refused, naming the key and the frozen volumes
    changed = copy.deepcopy(data)
    changed["phases"][0]["volumes"]["count"] = 4
    with pytest.raises(ConfigError, match=r"phases\[0\]\.volumes: the archive froze .*count 2 → 4"):
        run_campaign(load_campaign(_write(tmp_path, changed)), workers=1, quiet=True)

    # so is a changed reference potential file (before any Hessian is computed)
    coeff = tmp_path / "Mo_Chen_PRM2017.snapcoeff"
    lines = coeff.read_text().splitlines()
    lines[5] = str(float(lines[5]) + 1e-3)  # the first θ coefficient after β0
    coeff.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="another reference potential"):
        run_campaign(load_campaign(_write(tmp_path, data)), workers=1, quiet=True)
