"""Melting point by solid–liquid coexistence: the solid-like order parameter, the cell checks,
the full-melt / full-freeze guard, the checkpoint and the CLI (cheap EAM Cu_u3, small cells)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from phasetune.cli.main import cli
from phasetune.engine.session import Engine
from phasetune.errors import StructureError
from phasetune.potentials.registry import load_potential
from phasetune.structures.crystals import crystal, nearest_neighbour_distance
from phasetune.ti import coexistence as coex
from phasetune.ti.coexistence import CoexistenceError, CoexistenceSettings, coexistence_melting
from phasetune.ti.coexistence_cell import check_two_phase_cell, interaction_cutoff
from phasetune.ti.coexistence_result import RunRecord, combine_runs
from phasetune.ti.solidity import criterion_for, solid_fraction, solid_like, solid_profile

CU = "lammps:Cu_u3.eam"
FAST = CoexistenceSettings(crystal_steps=1000, interface_steps=500)
"""Short stages for the tests (Cu_u3 melts near 1300 K)."""


@pytest.fixture(scope="module")
def cu():
    return load_potential(CU)


def _md_snapshots(atoms, potential, stages):
    """Positions after Langevin NVT stages [(T, steps), …] at the cell of ``atoms``."""
    out = []
    with Engine() as engine:
        engine.load_structure(atoms, potential.commands())
        engine.commands(["timestep 0.002", "velocity all create 600 7 mom yes rot no",
                         "fix 1 all nve"])
        for temperature, steps in stages:
            engine.commands(["unfix 2"] if out else [])
            engine.commands([f"fix 2 all langevin {temperature} {temperature} 0.1 11 zero yes",
                             f"run {steps} post no"])
            out.append(engine.positions())
    return out


def test_solid_fraction_separates_crystal_from_liquid(cu):
    atoms = crystal("fcc", "Cu", volume=12.7, cells=3)
    d_nn = nearest_neighbour_distance(atoms.positions, np.array(atoms.cell))
    fcc = criterion_for("fcc")
    assert solid_fraction(atoms.positions, atoms.cell, d_nn, fcc) == 1.0
    thermal, hot, liquid = _md_snapshots(atoms, cu, [(1100, 300), (3500, 1000), (1400, 200)])
    assert solid_fraction(thermal, atoms.cell, d_nn, fcc) > 0.95
    assert solid_fraction(hot, atoms.cell, d_nn, fcc) < 0.1
    assert solid_fraction(liquid, atoms.cell, d_nn, fcc) < 0.1
    # a crystal half and a liquid half: the slab profile sees both
    def lower(x):
        return (np.linalg.solve(np.array(atoms.cell).T, x.T)[2] % 1.0) < 0.5

    mixed = np.concatenate([thermal[lower(thermal)], liquid[~lower(liquid)]])
    profile = solid_profile(mixed, atoms.cell, solid_like(mixed, atoms.cell, d_nn, fcc), 2)
    assert profile[0] > 0.7 and profile[1] < 0.3


def test_bcc_criterion_rejects_a_gas():
    atoms = crystal("bcc", "Mo", volume=16.0, cells=3)
    d_nn = nearest_neighbour_distance(atoms.positions, np.array(atoms.cell))
    bcc = criterion_for("bcc")
    rng = np.random.default_rng(0)
    jiggled = atoms.positions + rng.normal(scale=0.08 * d_nn, size=atoms.positions.shape)
    gas = rng.random(atoms.positions.shape) @ np.array(atoms.cell)
    assert solid_fraction(jiggled, atoms.cell, d_nn, bcc) > 0.95
    assert solid_fraction(gas, atoms.cell, d_nn, bcc) == 0.0
    with pytest.raises(Exception, match="no solid-like criterion"):
        criterion_for("a15")


def test_cell_checks(cu):
    assert interaction_cutoff(cu, cu) == pytest.approx(4.95, abs=1e-6)
    short = crystal("fcc", "Cu", volume=12.7, cells=(3, 3, 4))
    with pytest.raises(StructureError, match="too short for two phases") as err:
        check_two_phase_cell(short, 4.95, 3.0)
    assert "--cells 3 3 " in err.value.hint
    wrong_axis = crystal("fcc", "Cu", volume=12.7, cells=(10, 3, 3))
    with pytest.raises(StructureError):
        check_two_phase_cell(wrong_axis, 4.95, 1.0)
    ok = check_two_phase_cell(crystal("fcc", "Cu", volume=12.7, cells=(3, 3, 10)), 4.95, 3.0)
    assert ok["half_length"] > 3 * 4.95


def test_combine_runs_takes_the_larger_error():
    def record(t, s):
        return RunRecord(run=0, T_m=t, sigma=s, pressure_GPa=0.0, sigma_pressure_GPa=0.01,
                         pressure_total_GPa=0.0, pressure_lateral_GPa=0.0, volume=12.0,
                         cross_section=1.0, length=1.0, fraction_start=0.5, fraction_end=0.5,
                         fraction_plateau=0.5, plateau_ps=(1.0, 2.0), production_ps=2.0,
                         series={}, energy_drift=0.0)

    t_m, sigma, spread, block = combine_runs([record(1000, 1.0), record(1020, 1.0)])
    assert t_m == 1010 and spread == pytest.approx(10.0) and sigma == spread
    t_m, sigma, spread, block = combine_runs([record(1000, 30.0), record(1001, 40.0)])
    assert sigma == block == pytest.approx(25.0)
    _, sigma, spread, _ = combine_runs([record(1000, 5.0)])
    assert np.isnan(spread) and sigma == 5.0


@pytest.fixture(scope="module")
def cu_run(tmp_path_factory):
    """Two short coexistence runs of Cu_u3 near its melting point, checkpointed."""
    path = tmp_path_factory.mktemp("coex") / "ck.json"
    result = coexistence_melting("fcc", "Cu", CU, T_guess=1300, cells=(3, 3, 10), runs=2,
                                 steps=1000, checkpoint=path, progress=False, settings=FAST)
    return result, path


def test_coexistence_result(cu_run):
    result, path = cu_run
    d = result.to_dict()
    assert 1100 < result.T_m < 1500 and 0 < result.sigma < 100
    assert len(d["runs"]) == 2 and d["T_runs"] == [r.T_m for r in result.runs]
    for r in d["runs"]:
        assert 0.1 <= r["fraction_start"] <= 0.9 and 0.1 <= r["fraction_end"] <= 0.9
        assert r["plateau_ps"] == [pytest.approx(1.0), pytest.approx(2.0)]
        assert abs(r["energy_drift"]) < 1.0 and r["cpu_seconds"] > 0
        assert len(r["trace"]["time_ps"]) == len(r["trace"]["solid_fraction"]) == 4
        assert len(r["profile"]) == 10
    assert d["cell"]["n_atoms"] == 360 and d["cell"]["cutoff"] == pytest.approx(4.95)
    assert d["crystal"]["solid_fraction_min"] > 0.9
    json.dumps(d)  # JSON-ready


def test_checkpoint_resumes_and_adds_runs(cu_run, monkeypatch):
    result, path = cu_run
    calls = []
    original = coex._run_once

    def counting(k, *args, **kwargs):
        calls.append(k)
        return original(k, *args, **kwargs)

    monkeypatch.setattr(coex, "_run_once", counting)
    again = coexistence_melting("fcc", "Cu", CU, T_guess=1300, cells=(3, 3, 10), runs=2,
                                steps=1000, checkpoint=path, progress=False, settings=FAST)
    assert calls == [] and again.T_m == result.T_m
    more = coexistence_melting("fcc", "Cu", CU, T_guess=1300, cells=(3, 3, 10), runs=3,
                               steps=1000, checkpoint=path, progress=False, settings=FAST)
    assert calls == [2] and [r.T_m for r in more.runs[:2]] == list(result.T_values)
    with pytest.raises(Exception, match="different run"):
        coexistence_melting("fcc", "Cu", CU, T_guess=1350, cells=(3, 3, 10), runs=1,
                            steps=1000, checkpoint=path, progress=False, settings=FAST)


def test_full_melt_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "ck.json"
    with pytest.raises(CoexistenceError) as err:
        coexistence_melting("fcc", "Cu", CU, T_guess=1650, cells=(3, 3, 10), runs=1,
                            steps=1000, checkpoint=path, progress=False, settings=FAST)
    message = str(err.value)
    assert "coexistence run 0" in message and "melted completely" in message
    assert "solid fraction" in message and "lower --T-guess" in err.value.hint
    # the failure is checkpointed: a rerun repeats the error without any MD
    monkeypatch.setattr(coex, "TwoPhaseMD", None)
    with pytest.raises(CoexistenceError, match="melted completely"):
        coexistence_melting("fcc", "Cu", CU, T_guess=1650, cells=(3, 3, 10), runs=1,
                            steps=1000, checkpoint=path, progress=False, settings=FAST)


def test_full_freeze_is_refused():
    settings = CoexistenceSettings(crystal_steps=500, interface_steps=500, melt_factor=2.5)
    with pytest.raises(CoexistenceError) as err:
        coexistence_melting("fcc", "Cu", CU, T_guess=950, cells=(3, 3, 10), runs=1,
                            steps=1000, progress=False, settings=settings)
    assert "froze completely" in str(err.value) and "raise --T-guess" in err.value.hint


def test_cli_json_smoke(tmp_path):
    args = ["coexist", "--potential", CU, "--structure", "fcc", "--element", "Cu", "-P", "0",
            "--T-guess", "1300", "--cells", "3", "3", "10", "--runs", "1", "--steps", "500",
            "--checkpoint", str(tmp_path / "ck.json"), "--no-progress", "--json"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    for key in ("T_m", "sigma", "sigma_runs", "sigma_block", "pressure_mean_GPa", "runs",
                "T_runs", "fraction_start", "fraction_end", "crystal", "cell", "settings",
                "warnings", "cpu_seconds", "units"):
        assert key in out
    assert out["sigma_runs"] is None and out["settings"]["coupling"] == "z"
    assert (tmp_path / "ck.json").exists()
    bad = CliRunner().invoke(cli, args[:11] + ["--cells", "3", "3"] + args[15:])
    assert bad.exit_code == 2 and "three integers" in bad.stdout


@pytest.mark.slow
def test_mo_snap_coexistence_settles_between_bounds():
    """One 216-atom run of Mo_Chen_PRM2017 (≈ 2.5 min): the crystal melts at 3000 K within a few
    ps in this cell, and the two-phase run settles well below it (≈ 2600 K measured)."""
    result = coexistence_melting("bcc", "Mo", "lammps:Mo_Chen_PRM2017.snap", T_guess=2600,
                                 cells=(3, 3, 12), runs=1, steps=4000, progress=False)
    assert 2300 < result.T_m < 2900
    assert 0.1 < result.runs[0].fraction_end < 0.9


def test_bracket_route_brackets_cu():
    from phasetune.ti.coexistence_bracket import GROWS, MELTS, coexistence_bracket

    result = coexistence_bracket("fcc", "Cu", CU, T_low=1150, T_high=1450, bisections=1,
                                 cells=(3, 3, 10), steps=1500, progress=False, settings=FAST)
    low, high = result.points[:2]
    assert low.verdict == GROWS and low.fraction_end > low.fraction_start
    assert high.verdict == MELTS and high.fraction_end < high.fraction_start
    assert len(result.points) == 3 and result.T_low < result.T_m < result.T_high
    assert 1150 <= result.T_low and result.T_high <= 1450
    assert result.half_width == pytest.approx(0.5 * (result.T_high - result.T_low))
    json.dumps(result.to_dict())


def test_bracket_helpers():
    from phasetune.ti.coexistence_bracket import (
        GROWS,
        MELTS,
        UNDECIDED,
        fraction_drift,
        verdict_of,
    )

    t = np.linspace(0, 4, 17)
    rng = np.random.default_rng(1)
    slope, error = fraction_drift(t, 0.5 + 0.05 * t + rng.normal(scale=0.01, size=t.size))
    assert slope == pytest.approx(0.05, abs=4 * error) and error > 0
    assert verdict_of(0.95, 0.0, 1.0, (0.1, 0.9)) == GROWS
    assert verdict_of(0.05, 0.0, 1.0, (0.1, 0.9)) == MELTS
    assert verdict_of(0.5, -0.1, 0.01, (0.1, 0.9)) == MELTS
    assert verdict_of(0.5, 0.01, 0.01, (0.1, 0.9)) == UNDECIDED


def test_cli_needs_t_guess_or_bracket():
    out = CliRunner().invoke(cli, ["coexist", "--potential", CU, "--structure", "fcc"])
    assert out.exit_code == 2 and "--T-guess" in out.output
