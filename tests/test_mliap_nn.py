"""ML-IAP nn potentials: files read/written faithfully, NetworkModel against LAMMPS ``pair_style
mliap`` per-atom energies (``compute pe/atom``) on LAMMPS ``compute sna/atom`` descriptors."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from ase.build import bulk

from phasetune.engine.calculators import AtomEnergyEvaluator
from phasetune.errors import PotentialError
from phasetune.potentials.linear import PairPotential
from phasetune.potentials.mliap import (
    ACTIVATIONS,
    NNPotential,
    build_network,
    load_nn,
    read_descriptor,
    read_model,
)
from phasetune.potentials.registry import lammps_potentials_dir, load_potential

torch = pytest.importorskip("torch")
from phasetune.nonlinear.model import DescriptorModel  # noqa: E402
from phasetune.nonlinear.network import NetworkModel  # noqa: E402

TOL = 1e-10  # eV per atom: LAMMPS and torch both evaluate in float64


@pytest.fixture(scope="module")
def cu() -> NNPotential:
    base = lammps_potentials_dir()
    return load_nn(base / "Cu.nn.mliap.model", base / "Cu.snap.mliap.descriptor")


def _frames(atoms, n, sigma, seed):
    rng = np.random.default_rng(seed)
    return [atoms.positions + rng.normal(0, sigma, atoms.positions.shape) for _ in range(n)]


def _lammps(atoms, potential, spec, positions, workdir):
    """(E (F,), per-atom energies (F, N), descriptors (F, N, K), species) from LAMMPS."""
    ev = AtomEnergyEvaluator(atoms, potential, spec, workdir=workdir)
    out = [ev.evaluate(x) for x in positions]
    return (np.array([o[0] for o in out]), np.array([o[2] for o in out]),
            np.array([o[3] for o in out]), ev.species)


def _cu_atoms():
    return bulk("Cu", "fcc", a=3.6, cubic=True) * (2, 2, 2)


def test_shipped_cu_nn_matches_lammps(cu, tmp_path):
    assert isinstance(NetworkModel(cu), DescriptorModel)
    assert cu.architecture.net_line() == "NET 30 3 tanh 2 tanh 2 linear 1"
    assert cu.n_params == 71 and cu.spec.params["bzeroflag"] == 0
    atoms = _cu_atoms()
    energy, eps, b, _ = _lammps(atoms, cu, cu.spec, _frames(atoms, 3, 0.1, 1), tmp_path)
    model = NetworkModel(cu)
    mine = model.atom_energies(b)
    assert np.abs(mine - eps).max() < TOL
    assert np.abs(model.energies(b, cu.theta) - energy).max() < TOL * len(atoms)
    assert np.ptp(eps) > 0.01  # the frames are distinct, the check is not trivial


def test_shipped_ta06a_nn_with_zbl_overlay(tmp_path):
    ta = load_potential("lammps:Ta06A.nn.mliap")
    assert isinstance(ta, NNPotential)
    assert ta.spec.fixed_style == ("zbl", "4", "4.8")
    assert ta.spec.fixed_coeffs == (("1", "1", "zbl", "73", "73"),)
    atoms = bulk("Ta", "bcc", a=3.3, cubic=True) * (3, 3, 3)
    frames = _frames(atoms, 2, 0.1, 2)
    energy, eps, b, _ = _lammps(atoms, ta, ta.spec, frames, tmp_path)
    zbl = PairPotential("zbl", ("Ta",), ("zbl", "4", "4.8"), (("1", "1", "73", "73"),))
    e_zbl, eps_zbl, _, _ = _lammps(atoms, zbl, ta.spec, frames, tmp_path)
    model = NetworkModel(ta)
    assert np.abs(model.atom_energies(b) - (eps - eps_zbl)).max() < 1e-9
    assert np.abs(model.energies(b) + e_zbl - energy).max() < 1e-8
    assert np.abs(e_zbl).min() > 1.0  # the overlay matters in these frames


@pytest.mark.parametrize("hidden, output", [
    ([("tanh", 7), ("sigmoid", 5), ("relu", 4)], "linear"),
    ([("relu", 6), ("linear", 3)], "tanh"),
    ([("sigmoid", 4), ("tanh", 3)], "sigmoid"),
])
def test_random_network_written_runs_in_lammps(cu, tmp_path, hidden, output):
    atoms = _cu_atoms()
    frames = _frames(atoms, 2, 0.15, 3)
    _, _, b, _ = _lammps(atoms, cu, cu.spec, frames, tmp_path)
    net = build_network("rand", cu.spec, hidden, output, scale0=b.reshape(-1, 30).mean(0),
                        scale1=b.reshape(-1, 30).std(0) + 1e-3, seed=len(hidden))
    net = net.with_theta(net.theta + 0.1, "rand")  # non-zero biases too
    paths = net.write(tmp_path, "rand")
    again = load_potential(str(paths["mliap"]))
    energy, eps, b2, _ = _lammps(atoms, again, cu.spec, frames, tmp_path)
    mine = NetworkModel(net).atom_energies(b2)
    assert np.abs(mine - eps).max() < TOL
    assert np.std(eps) > 1e-4


def test_two_element_random_network(cu, tmp_path):
    spec = replace(cu.spec, elements=("Cu", "Ni"), radii=(0.5, 0.45), weights=(1.0, 0.8))
    atoms = _cu_atoms()
    symbols = atoms.get_chemical_symbols()
    for i in range(0, len(atoms), 3):
        symbols[i] = "Ni"
    atoms.set_chemical_symbols(symbols)
    frames = _frames(atoms, 2, 0.1, 4)
    probe = build_network("probe", spec, [("tanh", 2)])
    _, _, b, species = _lammps(atoms, probe, spec, frames, tmp_path)
    net = build_network("CuNi", spec, [("tanh", 5), ("relu", 4)],
                        scale0=b.reshape(-1, 30).mean(0), scale1=b.reshape(-1, 30).std(0),
                        seed=7)
    net = net.with_theta(net.theta + 0.05)
    paths = net.write(tmp_path, "CuNi")
    _, eps, b2, species = _lammps(atoms, load_potential(str(paths["mliap"])), spec, frames,
                                  tmp_path)
    model = NetworkModel(net)
    assert np.abs(model.atom_energies(b2, species=species) - eps).max() < TOL
    assert set(species.tolist()) == {0, 1}
    _, grad = model.energies_and_gradients(b2, species=species)
    assert np.abs(grad[:, :net.architecture.n_params]).max() > 0  # both blocks are used
    assert np.abs(grad[:, net.architecture.n_params:]).max() > 0


def test_write_read_round_trip_bit_exact(cu, tmp_path):
    paths = cu.write(tmp_path, "cu")
    again = load_potential(str(paths["mliap"]))
    assert isinstance(again, NNPotential)
    assert again.architecture == cu.architecture
    for name in ("scale0", "scale1", "params"):
        assert np.array_equal(getattr(again, name), getattr(cu, name))
    assert again.spec.compatible_with(cu.spec) is None and again.sha256 == cu.sha256
    assert again.describe()["sha256"] == cu.describe()["sha256"]
    perturbed = cu.with_theta(cu.theta * (1 + 1e-13 * np.arange(cu.n_params)))
    p2 = perturbed.write(tmp_path, "p")
    assert np.array_equal(load_potential(str(p2["mliap"])).theta, perturbed.theta)
    assert perturbed.sha256 != cu.sha256
    text = p2["model"].read_text()
    assert max(len(ln.split()) for ln in text.splitlines() if not ln.startswith("#")) <= 30
    # the .mliap.model with its .mliap.descriptor beside it loads too
    assert np.array_equal(load_potential(str(p2["model"])).theta, perturbed.theta)


def test_perturbed_theta_run_by_lammps(cu, tmp_path):
    rng = np.random.default_rng(5)
    theta = cu.theta + rng.normal(0, 0.05, cu.n_params)
    tuned = cu.with_theta(theta, "Cu_tuned")
    pair = tuned.pair_potential(tmp_path)
    assert pair is not cu.original and pair.files[0].parent == tmp_path.resolve()
    atoms = _cu_atoms()
    energy, eps, b, _ = _lammps(atoms, tuned, cu.spec, _frames(atoms, 2, 0.1, 6), tmp_path)
    model = NetworkModel(cu)
    assert np.abs(model.atom_energies(b, theta) - eps).max() < TOL
    assert np.abs(model.energies(b, cu.theta) - energy).max() > 1e-3  # θ matters


def test_gradients_match_finite_differences(cu):
    rng = np.random.default_rng(8)
    b = rng.normal(cu.scale0[0], cu.scale1[0], (3, 5, 30))
    model = NetworkModel(cu)
    theta = cu.theta + rng.normal(0, 0.1, cu.n_params)
    energy, grad = model.energies_and_gradients(b, theta)
    assert grad.shape == (3, cu.n_params)
    assert np.allclose(energy, model.energies(b, theta), rtol=0, atol=1e-12)
    h = 1e-6
    for p in range(cu.n_params):
        step = np.zeros(cu.n_params)
        step[p] = h
        fd = (model.energies(b, theta + step) - model.energies(b, theta - step)) / (2 * h)
        assert np.allclose(grad[:, p], fd, rtol=1e-6, atol=1e-8), p
    eps, db = model.descriptor_gradients(b, theta)
    for k in (0, 7, 29):
        step = np.zeros(30)
        step[k] = h * cu.scale1[0, k]
        fd = (model.atom_energies(b + step, theta) - model.atom_energies(b - step, theta)) / (
            2 * h * cu.scale1[0, k])
        assert np.allclose(db[..., k], fd, rtol=1e-6, atol=1e-9)


# -- bad input ------------------------------------------------------------------------------
GOOD_NET = "NET 5 2 tanh 2 linear 1"  # twojmax 2: K = 5; 2·6 + 3 = 15 parameters
S0, S1 = "0 0 0 0 0\n", "1 1 2 1 1\n"
DESC = "rcutfac 4.0\ntwojmax 2\nnelems 1\nelems Cu\nradelems 0.5\nwelems 1.0\n"


def _model(tmp_path, header="1 15", net=GOOD_NET, body=None):
    body = body if body is not None else S0 + S1 + "0.1 " * 15 + "\n"
    path = tmp_path / "m.mliap.model"
    path.write_text(f"# test\n{header}\n{net}\n{body}")
    (tmp_path / "m.mliap.descriptor").write_text(DESC)
    return path


def test_good_small_model_loads(tmp_path):
    pot = load_potential(str(_model(tmp_path)))
    assert pot.architecture.layers == (2, 1) and pot.n_params == 15
    assert pot.scale1.tolist() == [[1.0, 1.0, 2.0, 1.0, 1.0]]


@pytest.mark.parametrize("kwargs, match", [
    ({"net": "NET 4 2 tanh 2 linear 1", "header": "1 13"}, r"m.mliap.model:3: .*4 descriptors "
                                                         r"but the descriptor file gives 5"),
    ({"header": "1 16"}, r"m.mliap.model:2: nparams is 16 but the layers .* need 15 \(12 \+ 3\)"),
    ({"body": "0 0 nan 0 0\n" + S1 + "0.1 " * 15}, r"m.mliap.model:4: scale0 .* 'nan' is not "
                                                     r"a finite"),
    ({"net": "NET 3 2 softplus 2 linear 1"}, r"m.mliap.model:3: unknown activation 'softplus'"),
    ({"net": "NET 5 2 tanh 2 linear 2", "header": "1 18"}, r"output layer has 2 nodes"),
    ({"body": S0 + S1 + "0.1 " * 14}, r"too few numbers: coefficients of element 1 has 14 of 15"),
    ({"body": "0 0 0 0 0 1\n1 1 2 1\n" + "0.1 " * 15}, r"m.mliap.model:4: too many numbers: "
                                                        r"scale0"),
    ({"body": S0 + S1 + "0.1 " * 15 + "\n0.2"}, r"m.mliap.model:7: too many numbers"),
    ({"body": S0 + "1 1 0 1 1\n" + "0.1 " * 15}, r"scale1 .* descriptor 3, is 0"),
    ({"net": "NET 5 2 tanh 2 linear"}, r"2 layer\(s\) need 4 words"),
    ({"header": "2 15"}, r"m.mliap.model:2: 2 element\(s\) but the descriptor file has 1"),
])
def test_bad_model_files(tmp_path, kwargs, match):
    with pytest.raises(PotentialError, match=match):
        load_potential(str(_model(tmp_path, **kwargs)))


def test_line_with_more_than_30_numbers_is_refused(tmp_path):
    (tmp_path / "d").write_text(DESC.replace("twojmax 2", "twojmax 6"))
    path = tmp_path / "wide.model"
    path.write_text("1 31\nNET 30 1 linear 1\n" + "0 " * 30 + "\n" + "1 " * 30 + "\n"
                    + "0.5 " * 31 + "\n")
    with pytest.raises(PotentialError, match=r"wide.model:5: 31 numbers on one line"):
        read_model(path)


def test_bad_descriptor_and_model_kinds(tmp_path):
    (tmp_path / "d").write_text(DESC + "quadraticflag 0\n")
    with pytest.raises(PotentialError, match=r"d:7: unknown ML-IAP sna keyword 'quadraticflag'"):
        read_descriptor(tmp_path / "d")
    (tmp_path / "d").write_text(DESC.replace("welems 1.0", "welems 1.0 2.0"))
    with pytest.raises(PotentialError, match=r"d:6: welems has 2 entries, nelems is 1"):
        read_descriptor(tmp_path / "d")
    for name, kind in (("Ta06A.mliap", "'linear'"), ("Ta06A.pytorch.mliap", "'mliappy'")):
        with pytest.raises(PotentialError, match=f"ML-IAP model {kind} is not supported"):
            load_potential(f"lammps:{name}")
    net = build_network("x", load_potential("lammps:Ta06A.nn.mliap").spec, [("tanh", 2)])
    assert net.n_params == 2 * 31 + 3
    with pytest.raises(PotentialError, match="non-finite"):
        net.with_theta(np.full(65, np.nan))


def test_activations_are_the_lammps_four():
    assert ACTIVATIONS == ("linear", "sigmoid", "tanh", "relu")
