"""Isosurface samplers: exact shells, centring on X0(V), NVE energy conservation, unphysical
samples."""

from __future__ import annotations

import numpy as np
import pytest

from phasetune.campaign.samplers import (
    HessianSampler,
    KineticSampler,
    PhysicalCheck,
    linear_energy,
)
from phasetune.constants import CU
from phasetune.engine.calculators import DescriptorEvaluator, ForceEvaluator
from phasetune.harmonic.reference import build_reference
from phasetune.structures.crystals import crystal


@pytest.fixture(scope="module")
def bcc16(mo):
    """16-atom BCC Mo at two volumes: (atoms relaxed, reference) each."""
    out = {}
    for volume in (15.5, 16.5):
        atoms = crystal("bcc", "Mo", volume=volume, cells=2)
        ref = build_reference(atoms, mo, spec=mo.spec, beta0=mo.beta0())
        relaxed = atoms.copy()
        relaxed.positions = ref.positions
        out[volume] = (relaxed, ref)
    return out


def _sampler(relaxed, ref, mo=None, fraction=0.5):
    check = PhysicalCheck(ref.positions, np.array(relaxed.cell), fraction)
    evaluator = DescriptorEvaluator(relaxed, mo.spec) if mo is not None else None
    energy = linear_energy(mo.theta, ref.D0) if mo is not None else None
    return HessianSampler(ref, check, evaluator, energy)


def test_samples_lie_exactly_on_the_shell_without_com_motion(bcc16):
    relaxed, ref = bcc16[15.5]
    sampler = _sampler(relaxed, ref)
    rng = np.random.default_rng(1)
    for alpha in (-6.0, -3.0):
        disp = sampler.reference.shell_displacements(alpha, 50, rng)
        labels = sampler.reference.shell_label(disp)
        assert np.allclose(labels, np.exp(alpha), rtol=0, atol=1e-10 * np.exp(alpha))
        assert np.abs(disp.mean(axis=1)).max() < 1e-12  # centre of mass does not move
    # the same rng stream gives the same samples (chunks are reproducible)
    a = sampler.reference.shell_displacements(-4.0, 5, np.random.default_rng(3))
    b = sampler.reference.shell_displacements(-4.0, 5, np.random.default_rng(3))
    assert np.array_equal(a, b)


def test_samples_are_centred_on_the_lattice_of_their_own_volume(bcc16, mo):
    """E/N − E0_ref − ω̄e^α/2 is the anharmonic part only: → 0 faster than e^α at each V."""
    for volume, (relaxed, ref) in bcc16.items():
        sampler = _sampler(relaxed, ref, mo)
        excess = []
        for alpha in (-9.0, -7.0):
            batch = sampler.sample(alpha, 8, np.random.default_rng(2), with_energy=True)
            assert batch.D.shape == (8, mo.spec.n_components) and batch.n_unphysical == 0
            harmonic = ref.omega_bar * np.exp(alpha) / 2
            excess.append(abs(batch.energies.mean() - harmonic) / harmonic)
        # relative anharmonic excess shrinks like e^{α/2}; a mis-centred lattice would add a
        # constant static energy and make it blow up as e^α → 0
        assert excess[0] < 5e-3, (volume, excess)
        assert excess[0] < excess[1]


def test_unphysical_samples_are_counted_not_dropped(bcc16, mo):
    relaxed, ref = bcc16[15.5]
    sampler = _sampler(relaxed, ref, mo, fraction=0.8)
    batch = sampler.sample(np.log(0.3), 10, np.random.default_rng(0))
    assert batch.n_unphysical > 0
    assert batch.D.shape[0] + batch.n_unphysical == 10
    assert "apart" in batch.reasons[0]
    check = PhysicalCheck(ref.positions, np.array(relaxed.cell))
    x = ref.positions.copy()
    x[1] = x[0] + 0.3
    assert check(x) is not None and check(ref.positions) is None


def test_kinetic_sampler_conserves_energy(bcc16, mo):
    relaxed, ref = bcc16[15.5]
    md = ForceEvaluator(relaxed, mo)
    harmonic = _sampler(relaxed, ref)
    sampler = KineticSampler(md, DescriptorEvaluator(relaxed, mo.spec), harmonic,
                             timestep=0.001, stride=10, equilibration=20)
    alpha = np.log(0.1 / ref.omega_bar)  # ε = 0.1 eV/atom (about 400 K)
    batch = sampler.sample(alpha, 6, np.random.default_rng(5))
    eps = batch.diagnostics["epsilon"]
    assert eps == pytest.approx(0.1)
    assert batch.D.shape == (6, mo.spec.n_components + 1)
    total = batch.energies + batch.D[:, -1]  # potential + kinetic energy per atom
    assert np.allclose(total, eps, atol=2e-5)
    assert batch.diagnostics["max_energy_drift"] < 2e-5
    # the burst itself: NVE without refresh keeps E constant and momentum zero
    e_start = sampler.potential() + sampler.kinetic()
    sampler.run(50)
    assert abs(sampler.potential() + sampler.kinetic() - e_start) < 5e-5
    p = (relaxed.get_masses()[:, None] * sampler.engine.velocities()).sum(axis=0)
    assert np.abs(p).max() < 1e-9 * CU


def test_physical_check_screen_matches_the_exhaustive_check(bcc16):
    """The pair bound only skips the all-pairs distance computation: verdicts (and messages) are
    those of the exhaustive check, for single configurations and whole chunks, near the
    threshold, and for displacements too large for the stored pairs."""
    from ase.geometry import get_distances

    relaxed, ref = bcc16[15.5]
    cell = np.array(relaxed.cell)
    check = PhysicalCheck(ref.positions, cell, 0.6)

    def exhaustive(x):
        _, dist = get_distances(x, cell=cell, pbc=True)
        np.fill_diagonal(dist, np.inf)
        d = dist.min()
        return f"atoms {d:.3f} Å apart (< {check.d_min:.3f} Å)" if d < check.d_min else None

    rng = np.random.default_rng(4)
    dx = rng.normal(size=(60, *ref.positions.shape)) * rng.uniform(0.05, 0.5, (60, 1, 1))
    # pairs pushed towards each other to just above / below the threshold
    pair = ref.positions[1] - ref.positions[0]
    pair -= cell.T @ np.round(np.linalg.solve(cell.T, pair))
    for k, gap in enumerate([1e-6, -1e-6, 1e-12, 0.0]):
        dx[k] = 0.0
        dx[k, 1] = -pair * (1 - (check.d_min + gap) / np.linalg.norm(pair))
    dx[10] = rng.normal(size=ref.positions.shape) * 3.0  # beyond the stored pairs
    x = ref.positions + dx
    expected = [exhaustive(xk) for xk in x]
    assert expected[1] is not None and expected[0] is None and expected[10] is not None
    assert check.screen(x, dx) == expected
    assert [check(xk, dk) for xk, dk in zip(x, dx, strict=True)] == expected
    assert [check(xk) for xk in x[:10]] == expected[:10]  # displacement by minimum image
    x[5, 3, 0] = np.nan
    assert check.screen(x, dx)[5] == check(x[5], dx[5]) == "non-finite positions"
