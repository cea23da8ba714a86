"""Import of DescriptorDOS pickles: restricted unpickling and conversion (method.md §3, §11)."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from phasetune.archive.legacy import import_descriptordos, load_pickle, synthetic_spectrum
from phasetune.constants import KB
from phasetune.errors import ArchiveError
from phasetune.estimator.ddos import DDOSEstimator
from phasetune.model.harmonic import shell_temperature
from phasetune.testsystems import gaussian_system

U0 = 1.5 * KB * 1000.0
"""Legacy energy unit: τ = 1 is the harmonic energy per atom at 1000 K (r = 3)."""


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_restricted_unpickler_refuses_code(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps([{"a": _Exploit()}]))
    with pytest.raises(ArchiveError, match=r"refusing to unpickle global '(os|posix)\.system'"):
        load_pickle(path)
    path.write_bytes(pickle.dumps({"f": eval}))
    with pytest.raises(ArchiveError, match="builtins.eval"):
        load_pickle(path)


def test_restricted_unpickler_admits_plain_data(tmp_path):
    data = [{"x": np.arange(6.0).reshape(2, 3), "n": np.int64(3), "s": "Hessian",
             "t": (1, 2.5), "v": np.float64(0.1), "i": np.arange(4)}]
    path = tmp_path / "ok.pkl"
    path.write_bytes(pickle.dumps(data, protocol=4))
    back = load_pickle(path)
    assert np.array_equal(back[0]["x"], data[0]["x"]) and back[0]["s"] == "Hessian"
    assert back[0]["n"] == 3 and back[0]["t"] == (1, 2.5)


def test_synthetic_spectrum_matches_the_stored_moments():
    omega = synthetic_spectrum(11.8, -0.113, 381)
    assert omega.size == 381 and np.all(omega > 0)
    assert np.mean(omega) == pytest.approx(11.8, rel=1e-13)
    assert np.mean(np.log(omega / omega.mean())) == pytest.approx(-0.113, rel=1e-10)


def legacy_records(ts) -> list[dict]:
    """DescriptorDOS-format records of a test system (histograms clipped at the 0.5/99.5 %
    percentiles, as the reference implementation does)."""
    ref = ts.phase_volume.reference
    out = []
    for s in ts.phase_volume.shells:
        d = s.raw
        mean, cov = d.mean(axis=0), np.cov(d.T)
        evals, evecs = np.linalg.eigh(cov)
        x = (d - mean) @ evecs
        lo, hi = np.percentile(x, [0.5, 99.5], axis=0)
        bins = np.linspace(lo, hi, 100).T
        counts = np.array([np.histogram(x[:, j], bins[j])[0] for j in range(d.shape[1])])
        out.append(dict(
            cov_eval=evals, cov_evec=evecs, cov_counts=counts, cov_bins=bins, D_mean=mean,
            D_var=cov, calls=d.shape[0], IsoSurface=np.float64(np.exp(s.alpha) * ref.omega_bar
                                                              / (2 * U0)),
            N=ref.n_atoms, mass=ref.mass, D_0=ref.D0, V_0=np.float64(ref.volume * ref.n_atoms),
            C_0=ref.cell, x_0=ref.positions.ravel(), E_0=ref.E0,
            log_det=np.float64(ref.mean_log_nu), U_0=U0, omega_mean=np.float64(ref.omega_bar),
            alpha_shift=np.float64(np.log(ref.omega_bar / (2 * U0))), flavor="Hessian",
            Strain=np.float64(0.0), E_mean=np.float64(np.nan)))
    return out


def test_legacy_round_trip_matches_native_estimate(tmp_path):
    ts = gaussian_system(seed=5, n_samples=3000, store_raw=True)
    path = tmp_path / "gauss_bcc.pkl"
    path.write_bytes(pickle.dumps(legacy_records(ts)))
    pv = import_descriptordos(path)
    assert np.allclose(pv.alphas, ts.phase_volume.alphas, atol=1e-12)
    assert pv.reference.phase == "bcc" and pv.reference.omega.size == 3 * 128 - 3
    assert pv.provenance["histogram_dropped_samples_max"] > 0
    native = DDOSEstimator(ts.phase_volume, ts.conventions)
    legacy = DDOSEstimator(pv, ts.conventions)
    assert all(f.truncated and f.source == "histogram" for f in legacy.fit.shells)
    temps = np.array([500.0, 800.0])
    a = native.predict(ts.theta_ref, temps)
    b = legacy.predict(ts.theta_ref, temps)
    exact = ts.exact(ts.theta_ref, temps)
    assert np.all(b.solved)
    assert np.all(np.abs(b.F_vib - exact.F_vib) <= 4 * b.sigma_F + 1e-6)
    assert np.all(np.abs(b.F_vib - a.F_vib) <= 4 * np.hypot(a.sigma_F, b.sigma_F) + 1e-6)


# ---------------------------------------------------------------------------------------------
# the published BCC/FCC iron data


@pytest.fixture(scope="module")
def fe(fe_data):
    from phasetune.potentials.registry import load_snap

    pot = load_snap(fe_data / "X_Fe.snapcoeff", fe_data / "X_Fe.snapparam")
    phases = {}
    for name, stem in (("bcc", "Fe_bcc_444_Hessian_single_vol"),
                       ("fcc", "Fe_fcc_333_Hessian_single_vol")):
        pv = import_descriptordos(fe_data / f"{stem}.pkl", snapparam=fe_data / "X_Fe.snapparam")
        phases[name] = (pv, DDOSEstimator(pv))
    return pot, phases


def test_fe_import_conventions(fe, fe_data):
    pot, phases = fe
    raw = load_pickle(fe_data / "Fe_bcc_444_Hessian_single_vol.pkl")
    pv = phases["bcc"][0]
    tau = np.sort([float(d["IsoSurface"]) for d in raw])
    # α = ln τ + ln(2U0/ω̄): the shell temperature (r = 3) is τ·1000 K
    assert np.allclose(shell_temperature(pv.alphas, pv.reference.omega_bar, 3.0), 1000 * tau)
    assert pv.reference.omega_bar == pytest.approx(float(raw[0]["omega_mean"]), rel=1e-13)
    assert pv.reference.mean_log_nu == pytest.approx(float(raw[0]["log_det"]), rel=1e-10)
    assert pv.descriptors.labels[0].startswith("B") and len(pv.descriptors.labels) == 55
    # the lattice energy is β0 + θ·D0 (θ = X_Fe, the sampling reference of these data)
    assert pot.beta0() + pot.theta @ pv.reference.D0 == pytest.approx(pv.reference.E0,
                                                                     abs=1e-9)
    # the strain offset (kept as data): shell-mean energies and θ·δD agree
    for _, (p, _) in phases.items():
        offset = p.provenance["static_energy_offset"]
        assert offset > 0
        assert pot.theta @ np.array(p.provenance["strain_descriptor_offset"]) == pytest.approx(
            offset, rel=1e-6)


def test_fe_predicts_finite_free_energies_with_flags(fe):
    pot, phases = fe
    temps = np.array([500.0, 1000.0, 1500.0])
    for _, est in phases.values():
        p = est.predict(pot.theta, temps, gradient=True, beta0=pot.beta0())
        assert p.F_total.shape == (3, 1) and p.D_star.shape == (3, 1, 55)
        assert np.all(np.isfinite(p.F_total)) and np.all(np.isfinite(p.sigma_F))
        assert np.all(np.isfinite(p.D_star)) and np.all(p.sigma_F > 0)
        assert p.solved.dtype == bool
        for t in range(3):
            assert bool(p.solved[t, 0]) == (not p.reasons(t, 0))
        # free energy falls with temperature, entropy positive
        assert np.all(np.diff(p.F_total[:, 0]) < 0) and np.all(p.entropy > 0)


def test_fe_alpha_star_and_flags(fe):
    """X_Fe on the published data: the α machinery is exact for the harmonic part, α* moves above
    the τ = 2 shell near 1300 K and that is flagged, and the score route flags the components
    tilted beyond the ±2.5σ histograms (strain mis-centring), never silently."""
    from phasetune.estimator.prediction import ALPHA_HIGH, CLAMPED

    pot, phases = fe
    est = phases["bcc"][1]
    ref = est.reference
    for t in (600.0, 1000.0):
        h = np.exp(est.alphas) * ref.omega_bar / (2 * KB * t)  # harmonic shell energies only
        alpha = est.solver.solve(h[None, :]).alpha
        assert shell_temperature(alpha, ref.omega_bar, est.r)[0] == pytest.approx(t, rel=1e-6)
    temps = np.array([600.0, 1000.0, 1800.0])
    cum = est.cumulant(pot.theta, temps)
    assert cum.solved[:2, 0].all() and cum.status[2, 0] & ALPHA_HIGH
    assert np.all(cum.T_alpha_star[:2, 0] > 1.2 * temps[:2])  # anharmonic + strain-term tilt
    score = est.predict(pot.theta, temps)
    assert np.all(score.status[:2, 0] & CLAMPED) and score.status[2, 0] & ALPHA_HIGH
    assert not score.solved.any()
