"""Trajectory reweighting (phasetune.reweighting): the estimator on Gaussian descriptor sums with
an exact answer, the LAMMPS frame sampler and its HDF5 store, and θ-path TI as ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from phasetune.constants import KB
from phasetune.errors import EstimatorError
from phasetune.nonlinear.model import LinearModel
from phasetune.reweighting import LowEffectiveSampleError, cross_phase, reweight

T_GAUSS = 1000.0
BETA = 1.0 / (KB * T_GAUSS)


def gaussian_frames(n_frames: int, n_atoms: int, mu: np.ndarray, cov: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
    """Per-atom descriptors (F, N, K) whose sum over atoms is exactly N(μ, Σ)-distributed: the
    sum is drawn, then spread over the atoms with zero-sum per-atom noise."""
    sums = rng.multivariate_normal(mu, cov, size=n_frames)
    noise = rng.normal(size=(n_frames, n_atoms, len(mu)))
    noise -= noise.mean(axis=1, keepdims=True)
    return sums[:, None, :] / n_atoms + 0.1 * noise


def gaussian_problem(seed: int = 1, k: int = 5, n_atoms: int = 16):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(k, k))
    cov = 2e-3 * (a @ a.T + k * np.eye(k))          # Σ of Σ_i B_i, (descriptor units)²
    mu = rng.normal(size=k) * n_atoms
    theta0 = rng.normal(size=k)
    return rng, mu, cov, theta0, n_atoms


def exact_delta(mu: np.ndarray, cov: np.ndarray, delta: np.ndarray) -> float:
    """δF (eV, total) = Δθ·μ − (β/2)ΔθᵀΣΔθ: minus k_BT times the cumulant generating function
    of the Gaussian ΔU = Δθ·Σ_i B_i at −β."""
    return float(delta @ mu - 0.5 * BETA * delta @ cov @ delta)


def test_gaussian_value_gradient_and_ess_are_exact():
    """Many Δθ at once: δF within 4σ of the exact value, σ equal to the exact delta-method
    error, ESS fraction equal to exp(−β²ΔθᵀΣΔθ), and the gradient equal to μ − βΣΔθ."""
    rng, mu, cov, theta0, n = gaussian_problem()
    model = LinearModel(len(mu), beta0=-3.0)
    frames = gaussian_frames(200_000, n, mu, cov, rng)
    directions = rng.normal(size=(6, len(mu)))
    # steps of ΔθᵀΣΔθ β² between 0.05 and 0.6
    scale = np.sqrt(np.linspace(0.05, 0.6, 6) / (BETA**2 * np.einsum(
        "mk,kl,ml->m", directions, cov, directions)))
    deltas = directions * scale[:, None]
    res = reweight(frames, theta0, theta0 + deltas, model, T_GAUSS, min_ess=0.0)
    s2 = BETA**2 * np.einsum("mk,kl,ml->m", deltas, cov, deltas)
    exact = np.array([exact_delta(mu, cov, d) for d in deltas]) / n
    sigma_exact = np.sqrt(np.expm1(s2) / len(frames)) / BETA / n
    assert np.all(np.abs(res.delta_F - exact) < 4 * res.sigma)
    # blocking keeps the largest level's estimate: never below the exact error, not far above
    assert np.all(res.sigma > 0.85 * sigma_exact) and np.all(res.sigma < 1.7 * sigma_exact)
    np.testing.assert_allclose(res.ess_fraction, np.exp(-s2), rtol=0.05)
    grad_exact = (mu[None, :] - BETA * deltas @ cov) / n
    assert np.all(np.abs(res.gradient - grad_exact) < 5 * res.gradient_sigma + 1e-12)
    # the σ of the gradient is not vacuous: the first-order estimate μ/N is far outside it
    assert np.any(np.abs(res.gradient[-1] - mu / n) > 20 * res.gradient_sigma[-1])
    np.testing.assert_allclose(res.delta_F_total, res.delta_F * n)


def test_sigma_accounts_for_correlated_frames():
    """Each frame repeated 16 times (statistical inefficiency 16): the estimate is that of the
    distinct frames, and so must be its error, 4× the naive error of the repeated series."""
    rng, mu, cov, theta0, n = gaussian_problem(seed=9)
    frames = gaussian_frames(4000, n, mu, cov, rng)
    direction = rng.normal(size=len(mu))
    delta = direction * np.sqrt(0.3 / (BETA**2 * direction @ cov @ direction))
    model = LinearModel(len(mu))
    distinct = reweight(frames, theta0, theta0 + delta, model, T_GAUSS)
    repeated = reweight(np.repeat(frames, 16, axis=0), theta0, theta0 + delta, model, T_GAUSS)
    assert repeated.delta_F[0] == pytest.approx(distinct.delta_F[0], rel=1e-9)
    sigma_exact = np.sqrt(np.expm1(0.3) / len(frames)) / BETA / n
    assert repeated.sigma[0] > 0.85 * sigma_exact
    assert repeated.gradient_sigma[0] == pytest.approx(distinct.gradient_sigma[0], rel=0.5)


def test_gradient_is_the_derivative_of_the_estimator():
    """Central finite differences of δF(θ) on the same frames equal the reweighted ⟨∂U/∂θ⟩_θ."""
    rng, mu, cov, theta0, n = gaussian_problem(seed=4)
    model = LinearModel(len(mu))
    frames = gaussian_frames(2000, n, mu, cov, rng)
    theta = theta0 + 0.3 / (BETA * np.sqrt(np.trace(cov))) * rng.normal(size=len(mu))
    res = reweight(frames, theta0, theta, model, T_GAUSS, min_ess=0.0)
    h = 1e-5
    bumps = theta[None, :] + h * np.vstack([np.eye(len(mu)), -np.eye(len(mu))])
    f = reweight(frames, theta0, bumps, model, T_GAUSS, min_ess=0.0).delta_F
    fd = (f[: len(mu)] - f[len(mu):]) / (2 * h)
    np.testing.assert_allclose(res.gradient[0], fd, rtol=1e-6, atol=1e-9)


class _GenericLinear:
    """LinearModel behind the generic DescriptorModel path (one θ at a time)."""

    def __init__(self, k: int, beta0: float):
        self._m = LinearModel(k, beta0)
        self.n_params = self.n_descriptors = k

    def energies(self, b, theta, species=None):
        return self._m.energies(b, theta)

    def energies_and_gradients(self, b, theta, species=None):
        return self._m.energies_and_gradients(b, theta)


def test_generic_model_path_equals_the_linear_fast_path():
    rng, mu, cov, theta0, n = gaussian_problem(seed=7)
    frames = gaussian_frames(500, n, mu, cov, rng)
    thetas = theta0 + 0.01 * rng.normal(size=(3, len(mu)))
    fast = reweight(frames, theta0, thetas, LinearModel(len(mu), -2.0), T_GAUSS, min_ess=0.0)
    slow = reweight(frames, theta0, thetas, _GenericLinear(len(mu), -2.0), T_GAUSS, min_ess=0.0)
    np.testing.assert_allclose(slow.delta_F, fast.delta_F, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(slow.gradient, fast.gradient, rtol=1e-9)
    np.testing.assert_allclose(slow.ess, fast.ess, rtol=1e-9)
    # θ = θ0 exactly: δF = 0, every frame counts
    zero = reweight(frames, theta0, theta0, LinearModel(len(mu)), T_GAUSS)
    assert zero.delta_F[0] == 0.0 and zero.ess_fraction[0] == pytest.approx(1.0)


def test_low_ess_is_refused_or_flagged():
    rng, mu, cov, theta0, n = gaussian_problem(seed=2)
    model = LinearModel(len(mu))
    frames = gaussian_frames(4000, n, mu, cov, rng)
    direction = rng.normal(size=len(mu))
    far = direction * np.sqrt(3.0 / (BETA**2 * direction @ cov @ direction))  # e^{-3}: 5 %
    near = 0.05 * far
    with pytest.raises(LowEffectiveSampleError) as info:
        reweight(frames, theta0, theta0 + np.vstack([near, far]), model, T_GAUSS)
    text = str(info.value)
    assert "effective sample size" in text and "threshold 0.5" in text
    assert "re-sample" in text and "\n" not in text
    res = reweight(frames, theta0, theta0 + np.vstack([near, far]), model, T_GAUSS, flags=True)
    assert res.flagged.tolist() == [False, True]
    assert res.ess_fraction[1] < 0.2
    # a configurable threshold
    reweight(frames, theta0, theta0 + far, model, T_GAUSS, min_ess=0.01)
    with pytest.raises(EstimatorError):
        reweight(frames[:, :, :3], theta0, theta0, model, T_GAUSS)


def test_anchor_and_cross_phase():
    rng, mu, cov, theta0, n = gaussian_problem(seed=3)
    model = LinearModel(len(mu))
    delta = 1e-3 * rng.normal(size=len(mu))
    a = reweight(gaussian_frames(3000, n, mu, cov, rng), theta0, theta0 + delta, model, T_GAUSS)
    b = reweight(gaussian_frames(3000, n, 0.9 * mu, cov, rng), theta0, theta0 + delta, model,
                 T_GAUSS)
    anchored = a.with_anchor(-10.0, 0.002)
    assert anchored.F[0] == pytest.approx(-10.0 + a.delta_F[0])
    assert anchored.F_sigma[0] == pytest.approx(np.hypot(0.002, a.sigma[0]))
    value, sigma = cross_phase(a, b, 0.05, 0.001)
    assert value[0] == pytest.approx(0.05 + b.delta_F[0] - a.delta_F[0])
    exact = 0.05 + (exact_delta(0.9 * mu, cov, delta) - exact_delta(mu, cov, delta)) / n
    assert abs(value[0] - exact) < 4 * np.hypot(a.sigma[0], b.sigma[0])
    assert sigma[0] > 0.001


# -- LAMMPS frames -------------------------------------------------------------------------------
def _small_run(mo, path, **kw):
    from phasetune.reweighting.sampling import SamplingSettings, sample_frames
    from phasetune.structures.crystals import crystal

    atoms = crystal("bcc", "Mo", volume=15.9, cells=2)
    settings = SamplingSettings(steps=300, stride=10, equilibration=100, chunk_frames=10)
    return sample_frames(atoms, mo, 600.0, path, settings=settings, seed=3, **kw)


def test_lammps_frames_reproduce_u0_and_round_trip(mo, tmp_path):
    """16-atom BCC Mo at 600 K: U0 from the stored descriptors with LinearModel equals LAMMPS's
    potential energy of every frame to 1e-8 eV/atom; the store reads back bit for bit."""
    from phasetune.reweighting import model_for
    from phasetune.reweighting.store import read_frames

    store = _small_run(mo, tmp_path / "f.h5")
    assert store.complete and store.n_frames == 30
    assert store.descriptors.shape == (30, 16, 30)
    model, theta0 = model_for(mo)
    u = model.energies(store.descriptors, theta0)
    assert np.max(np.abs(u - store.energy)) / 16 < 1e-8
    assert np.ptp(store.energy) > 1e-3  # real thermal frames, not copies of one
    back = read_frames(tmp_path / "f.h5")
    for name in ("descriptors", "energy", "volume", "cell", "positions", "step"):
        np.testing.assert_array_equal(getattr(back, name), getattr(store, name))
    assert back.temperature == 600.0 and back.ensemble == "nvt" and back.complete
    np.testing.assert_array_equal(back.theta0, theta0)
    assert back.metadata["potential"]["sha256"] == mo.pair_potential(tmp_path).sha256


def test_frame_store_refuses_corrupted_and_foreign_files(mo, tmp_path):
    import h5py

    from phasetune.errors import ArchiveError
    from phasetune.reweighting.store import FrameStore, read_frames, write_frames

    store = FrameStore.empty({"n_atoms": 2, "temperature": 300.0, "theta0": [1.0],
                              "ensemble": "nvt"}, 2, 1)
    store.append(np.ones((3, 2, 1)), np.arange(3.0), np.ones(3), np.zeros((3, 3, 3)),
                 np.zeros((3, 2, 3)), np.arange(3))
    path = write_frames(tmp_path / "s.h5", store)
    assert read_frames(path).n_frames == 3
    with h5py.File(path, "r+") as f:
        f["frames/energy"][1] = 7.0
    with pytest.raises(ArchiveError, match="corrupted object.*frames/energy"):
        read_frames(path)
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.attrs["format"] = "something-else"
    with pytest.raises(ArchiveError, match="not a phasetune reweighting frame store"):
        read_frames(tmp_path / "other.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(ArchiveError, match="cannot read"):
        read_frames(tmp_path / "junk.h5")


def test_interrupted_sampling_resumes_to_the_same_frames(mo, tmp_path):
    """A run stopped after one chunk and resumed gives the frames of an uninterrupted run."""
    full = _small_run(mo, tmp_path / "full.h5")
    part = _small_run(mo, tmp_path / "part.h5", stop_after_chunks=1)
    assert not part.complete and part.n_frames == 10
    resumed = _small_run(mo, tmp_path / "part.h5")
    assert resumed.complete and resumed.n_frames == 30
    np.testing.assert_array_equal(resumed.step, full.step)
    np.testing.assert_allclose(resumed.energy, full.energy, rtol=0, atol=1e-9)
    np.testing.assert_allclose(resumed.descriptors, full.descriptors, rtol=0, atol=1e-9)
    from phasetune.errors import PhasetuneError
    from phasetune.reweighting.sampling import SamplingSettings, sample_frames
    from phasetune.structures.crystals import crystal

    with pytest.raises(PhasetuneError, match="different run"):
        sample_frames(crystal("bcc", "Mo", volume=15.9, cells=2), mo, 700.0,
                      tmp_path / "part.h5",
                      settings=SamplingSettings(steps=300, stride=10, equilibration=100,
                                                chunk_frames=10), seed=3)


def test_npt_frames_and_melting_guard(mo, tmp_path):
    """NPT frames carry fluctuating volumes (U0 still reproduced); a crystal far above its
    melting point is refused with CrystalMeltedError."""
    from phasetune.errors import CrystalMeltedError
    from phasetune.reweighting import model_for
    from phasetune.reweighting.sampling import SamplingSettings, sample_frames
    from phasetune.structures.crystals import crystal

    atoms = crystal("bcc", "Mo", volume=15.9, cells=2)
    settings = SamplingSettings(steps=200, stride=10, equilibration=0, chunk_frames=20)
    store = sample_frames(atoms, mo, 600.0, tmp_path / "npt.h5", pressure=0.0,
                          settings=settings)
    assert store.ensemble == "npt" and np.ptp(store.volume) > 0
    model, theta0 = model_for(mo)
    assert np.max(np.abs(model.energies(store.descriptors, theta0) - store.energy)) < 16e-8
    hot = SamplingSettings(steps=3000, stride=10, equilibration=0, chunk_frames=50)
    with pytest.raises(CrystalMeltedError, match="Bragg order"):
        sample_frames(atoms, mo, 12000.0, tmp_path / "hot.h5", settings=hot)


@pytest.mark.slow
def test_reweighting_matches_theta_path_ti(mo, tmp_path):
    """16-atom BCC Mo at 600 K, a 0.5 % random Δθ: δF from reweighted NVT frames of θ0 equals
    route C's θ-integration (two end-point runs) within their combined errors."""
    from phasetune.reweighting.predict import predict
    from phasetune.reweighting.sampling import SamplingSettings, sample_frames
    from phasetune.structures.crystals import crystal
    from phasetune.ti import ThetaPathSettings, theta_path

    atoms = crystal("bcc", "Mo", volume=15.9, cells=2)
    rng = np.random.default_rng(5)
    theta1 = mo.theta + 0.005 * np.abs(mo.theta) * rng.normal(size=mo.theta.size)
    frames = sample_frames(atoms, mo, 600.0, tmp_path / "f.h5", seed=1,
                           settings=SamplingSettings(steps=4000, stride=10, equilibration=200))
    got = predict(frames, [mo.with_theta(theta1)])
    path = theta_path(atoms, mo, theta1[None, :], [600.0], repeats=2, seed=1, progress=False,
                      settings=ThetaPathSettings(equilibration=200, production=1500))
    combined = np.hypot(got.sigma[0], path.sigma[0, 0])
    print(f"\nreweighting {1e3 * got.delta_F[0]:.4f} ± {1e3 * got.sigma[0]:.4f} meV/atom "
          f"(ESS {got.ess_fraction[0]:.3f}), θ-path {1e3 * path.delta_F[0, 0]:.4f} ± "
          f"{1e3 * path.sigma[0, 0]:.4f} meV/atom")
    assert got.ess_fraction[0] > 0.9
    assert abs(got.delta_F[0] - path.delta_F[0, 0]) < 3 * combined
    assert combined < 0.2e-3


def test_cli_sample_and_predict(mo, tmp_path):
    """`phasetune reweight sample CONFIG.yaml` then `predict` with the θ0 potential (δF = 0
    exactly), a θ file, JSON output, and the one-line low-ESS refusal (exit status 2)."""
    import json

    from click.testing import CliRunner

    from phasetune.cli.main import cli

    config = tmp_path / "run.yaml"
    config.write_text("potential: lammps:Mo_Chen_PRM2017\nstructure: bcc\nvolume: 15.9\n"
                      "cells: 2\ntemperature: 600\nsteps: 200\nstride: 10\nequilibration: 55\n"
                      "chunk_frames: 10\nout: frames.h5\n")
    runner = CliRunner()
    res = runner.invoke(cli, ["reweight", "sample", str(config), "--no-progress", "--json"])
    assert res.exit_code == 2 and "equilibration" in res.output  # 55 is not a stride multiple
    config.write_text(config.read_text().replace("equilibration: 55", "equilibration: 100"))
    res = runner.invoke(cli, ["reweight", "sample", str(config), "--no-progress", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["frames"] == 20
    frames = str(tmp_path / "frames.h5")
    theta = mo.theta * (1 + 1e-4)
    np.save(tmp_path / "theta.npy", np.vstack([theta, mo.theta * 1.5]))
    res = runner.invoke(cli, ["reweight", "predict", frames, "--potential",
                              "lammps:Mo_Chen_PRM2017", "--theta-file",
                              str(tmp_path / "theta.npy"), "--flags", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["delta_F"][0] == 0.0 and out["ess_fraction"][0] == pytest.approx(1.0)
    assert out["flagged"] == [False, False, True]
    res = runner.invoke(cli, ["reweight", "predict", frames, "--theta-file",
                              str(tmp_path / "theta.npy")])
    assert res.exit_code == 2
    assert "effective sample size" in res.output and "re-sample" in res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("potential: lammps:Mo_Chen_PRM2017\ntemprature: 600\n")
    res = runner.invoke(cli, ["reweight", "sample", str(bad)])
    assert res.exit_code == 2 and "unknown key(s) temprature" in res.output


def test_ti_anchor_must_be_the_frames_run(mo, tmp_path):
    """F = F_TI(θ0) + δF with a TI JSON of the frames' potential, cell and T; a TI of another
    potential or volume is refused."""
    import json

    from phasetune.errors import PhasetuneError
    from phasetune.reweighting.predict import predict

    store = _small_run(mo, tmp_path / "f.h5")
    sha = store.metadata["potential"]["sha256"]

    def ti_json(name, sha, volume):
        path = tmp_path / name
        path.write_text(json.dumps({
            "n_atoms": 16, "volume_box": 16 * volume, "potential": {"sha256": sha},
            "temperatures": [{"T": 600.0, "F_3N-3": -10.5, "sigma": 2e-4}]}))
        return path

    theta = mo.theta * (1 + 2e-4)
    res = predict(store, thetas=theta, anchor=ti_json("ti.json", sha, 15.9))
    assert res.F[0] == pytest.approx(-10.5 + res.delta_F[0])
    assert res.F_sigma[0] == pytest.approx(np.hypot(2e-4, res.sigma[0]))
    with pytest.raises(PhasetuneError, match="not the frames' θ0 potential"):
        predict(store, thetas=theta, anchor=ti_json("other.json", "0" * 64, 15.9))
    with pytest.raises(PhasetuneError, match="Å³/atom"):
        predict(store, thetas=theta, anchor=ti_json("vol.json", sha, 16.2))
