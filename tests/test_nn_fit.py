"""train-nn: a tiny network fitted to a SNAP teacher on a handful of MD frames (the loss drops,
the written potential run by LAMMPS reproduces the torch network), and the YAML validation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from phasetune.cli.main import cli
from phasetune.errors import ConfigError
from phasetune.potentials.mliap import NNPotential
from phasetune.potentials.registry import load_potential

pytest.importorskip("torch")
from phasetune.nonlinear.network import NetworkModel  # noqa: E402
from phasetune.training.nn_fit import (  # noqa: E402
    fit_network,
    generate_data,
    load_nn_fit_spec,
    teacher_spec,
    validate_in_lammps,
)

TINY = """teacher: lammps:Mo_Chen_PRM2017
hidden: [[tanh, 3]]
phases:
  - {name: bcc, structure: bcc, cells: 2, volume: 15.8, strains: [0.0, 0.03],
     temperatures: [800]}
md: {equilibration: 20, frames: 4, stride: 10}
fit: {adam_steps: 150, lbfgs_steps: 20}
output: out
name: tiny
"""


def test_tiny_fit_loss_drops_and_lammps_agrees(tmp_path):
    (tmp_path / "t.yaml").write_text(TINY)
    fit = load_nn_fit_spec(tmp_path / "t.yaml")
    assert fit.output == tmp_path / "out"
    teacher = load_potential(fit.teacher)
    spec = teacher_spec(fit, teacher)
    runs = generate_data(fit, teacher, spec, tmp_path)
    assert len(runs) == 2 and runs[0].descriptors.shape == (4, 16, 30)
    # SNAP teacher: pe/atom sums to the energy
    assert np.allclose(runs[0].atom_energies.sum(1), runs[0].energies, atol=1e-9)
    # the recorded forces are the teacher's alone (no thermostat forces)
    from phasetune.engine.calculators import ForceEvaluator
    frames = runs[1]
    _, forces = ForceEvaluator(frames.atoms, teacher).energy_forces(frames.positions[-1])
    assert np.abs(forces - frames.forces[-1]).max() < 1e-8
    split = [r.split(0.25) for r in runs]
    train, held = [s[0] for s in split], [s[1] for s in split]
    result = fit_network("tiny", spec, [("tanh", 3)], "linear", train, fit.fit)
    assert result.history[-1] < 0.5 * result.history[0]
    assert isinstance(result.potential, NNPotential) and result.potential.n_params == 3 * 31 + 4
    paths = result.potential.write(tmp_path / "out", "tiny")
    written = load_potential(str(paths["mliap"]))
    figures = validate_in_lammps(written, held, tmp_path)
    model = NetworkModel(result.potential)
    de = np.concatenate([(model.energies(h.descriptors) - h.energies) / 16 for h in held])
    expected = 1e3 * np.sqrt(np.mean(de ** 2))
    assert figures["bcc"]["frames"] == 2
    assert figures["bcc"]["energy_rmse_meV_per_atom"] == pytest.approx(expected, rel=1e-6)
    assert 0 < figures["bcc"]["force_rmse_eV_per_A"] < 1.0


def test_train_nn_cli_json(tmp_path):
    (tmp_path / "t.yaml").write_text(TINY.replace("[0.0, 0.03]", "[0.0]")
                                     .replace("adam_steps: 150", "adam_steps: 20"))
    result = CliRunner().invoke(cli, ["train-nn", str(tmp_path / "t.yaml"), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["net"] == "NET 30 2 tanh 3 linear 1"
    assert set(summary["validation"]) == {"bcc"}
    assert (tmp_path / "out" / "tiny.mliap.model").is_file()
    assert json.loads((tmp_path / "out" / "tiny.json").read_text())["sha256"] == \
        summary["sha256"]


@pytest.mark.parametrize("text, match", [
    (TINY.replace("tanh, 3", "softplus, 3"), r"hidden\.0\.0"),
    (TINY.replace("temperatures: [800]", "temperatures: [-1]"), "temperatures must be positive"),
    (TINY + "learning: 3\n", "learning: Extra inputs"),
    ("teacher: [", "not valid YAML"),
])
def test_bad_config(tmp_path, text, match):
    (tmp_path / "t.yaml").write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_nn_fit_spec(tmp_path / "t.yaml")


def test_shipped_mo_network_follows_its_teacher():
    """examples/potentials/Mo_nn: the fitted network against Mo_Chen_PRM2017 on a fresh
    thermally displaced BCC and A15 configuration (not from its training runs)."""
    from pathlib import Path

    from phasetune.engine.calculators import ForceEvaluator
    from phasetune.structures.crystals import crystal

    folder = Path(__file__).resolve().parents[1] / "examples" / "potentials" / "Mo_nn"
    nn = load_potential(str(folder / "Mo_nn.mliap"))
    teacher = load_potential("lammps:Mo_Chen_PRM2017")
    summary = json.loads((folder / "Mo_nn.json").read_text())
    assert summary["sha256"] == nn.sha256 and summary["net"] == nn.architecture.net_line()
    rng = np.random.default_rng(11)
    for structure, cells in (("bcc", 3), ("a15", 2)):
        atoms = crystal(structure, "Mo", volume=15.9, cells=cells)
        x = atoms.positions + rng.normal(0, 0.07, atoms.positions.shape)
        e_nn, f_nn = ForceEvaluator(atoms, nn).energy_forces(x)
        e_t, f_t = ForceEvaluator(atoms, teacher).energy_forces(x)
        assert abs(e_nn - e_t) / len(atoms) < 5e-3
        assert np.sqrt(np.mean((f_nn - f_t) ** 2)) < 0.15
