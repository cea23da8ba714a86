"""Quadratic SNAP (``quadraticflag 1``) in the linear route: D = per-atom average of (B_i, ½B_ik²,
B_ik·B_il), the identity E/N = β0 + θ·D, files round trip, descriptors in TI MD, a campaign."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import yaml

from phasetune.engine.calculators import SNA_ID, DescriptorEvaluator, ForceEvaluator
from phasetune.errors import PotentialError
from phasetune.potentials.quadratic import product_count, product_labels, products
from phasetune.potentials.registry import lammps_potentials_dir, load_potential
from phasetune.potentials.snap_files import SnapCoeff, SnapParams, bispectrum_labels
from phasetune.structures.crystals import crystal

CU_Q = "lammps:Cu_Zuo_JPCA2020.quadratic"
MO_Q = "lammps:Mo_Zuo_JPCA2020.quadratic"
K = 30  # bispectrum components at 2J = 6
TOL = 1e-8  # eV/atom; campaigns demand 1e-6


@pytest.fixture(scope="module")
def cu_q():
    return load_potential(CU_Q)


def distorted(atoms, n: int, seed: int = 0, sigma: float = 0.1) -> np.ndarray:
    """(n, N, 3) thermally distorted positions, Å."""
    rng = np.random.default_rng(seed)
    return atoms.positions + rng.normal(0.0, sigma, (n, *atoms.positions.shape))


def gaps(pot, atoms, xs, workdir=None) -> np.ndarray:
    """|E_LAMMPS/N − (β0 + θ·D)| for each configuration, eV/atom."""
    forces = ForceEvaluator(atoms, pot, workdir=workdir)
    descriptors = DescriptorEvaluator(atoms, pot.spec)
    out = []
    for x in xs:
        energy, _ = forces.energy_forces(x)
        d = descriptors.descriptors(x)
        out.append(abs(energy / len(atoms) - (pot.beta0() + pot.theta @ d)))
    return np.array(out)


def test_quadratic_spec(cu_q):
    spec = cu_q.spec
    assert spec.quadratic and spec.n_bispectrum == K
    assert spec.n_block == spec.n_components == K + K * (K + 1) // 2 == 495
    assert cu_q.theta.shape == (495,) and not spec.fixed_mask.any()
    base = bispectrum_labels(6)
    assert spec.labels[:K] == base
    assert spec.labels[K] == "B[0,0,0]^2/2" and spec.labels[K + 1] == "B[0,0,0]*B[1,0,1]"
    assert spec.labels[-1] == "B[6,6,6]^2/2" and spec.labels[K:] == product_labels(base)
    assert len(set(spec.labels)) == 495
    raw = SnapCoeff.read(lammps_potentials_dir() / "Cu_Zuo_JPCA2020.quadratic.snapcoeff")
    assert np.array_equal(cu_q.theta, raw.elements[0].coefficients[1:])
    linear = load_potential("lammps:Mo_Zuo_JPCA2020")
    assert not linear.spec.quadratic and linear.spec.n_components == K
    flat = replace(spec, params=SnapParams(dict(spec.params.values, quadraticflag=0)))
    assert flat.n_components == K and not flat.quadratic
    assert flat.compatible_with(spec) == "quadraticflag: 0 vs 1"


def test_products_are_per_atom_then_averaged(cu_q):
    """The compute returns, per atom, B then ½B_k², B_kB_l (k < l) in upper-triangular order;
    D averages those per-atom products (not the products of the averages)."""
    atoms = crystal("fcc", "Cu", volume=11.8, cells=2)
    ev = DescriptorEvaluator(atoms, cu_q.spec)
    x = distorted(atoms, 1, seed=1)[0]
    d = ev.descriptors(x)
    per_atom = ev.engine.per_atom_compute(SNA_ID)
    assert per_atom.shape == (32, 495)
    np.testing.assert_allclose(per_atom[:, K:], products(per_atom[:, :K]), rtol=1e-12, atol=0)
    np.testing.assert_allclose(d[K:], products(per_atom[:, :K]).mean(axis=0), rtol=1e-12)
    assert not np.allclose(d[K:], products(d[:K]), rtol=1e-6)
    assert product_count(K) == 465


@pytest.mark.parametrize("name,structure,volume,cells", [
    (CU_Q, "fcc", 11.8, 2),   # 32 atoms
    (MO_Q, "bcc", 15.9, 3),   # 54 atoms
])
def test_quadratic_identity(name, structure, volume, cells):
    """N(β0 + θ·D) equals the LAMMPS energy of the shipped quadratic potential."""
    pot = load_potential(name)
    atoms = crystal(structure, pot.elements[0], volume=volume, cells=cells)
    assert gaps(pot, atoms, distorted(atoms, 3, seed=2)).max() < TOL


def test_bzeroflag_applies_before_the_products(tmp_path, cu_q):
    """With bzeroflag 1 LAMMPS subtracts B0 from B before forming products, in the pair style
    and in the compute alike: the identity still holds."""
    values = dict(cu_q.spec.params.values, bzeroflag=1)
    spec = replace(cu_q.spec, params=SnapParams(values, cu_q.spec.params.comments))
    paths = replace(cu_q, spec=spec, original=None).write(tmp_path, "cu_b0")
    pot = load_potential(str(paths["snap"]))
    assert pot.spec.params["bzeroflag"] == 1 and pot.spec.quadratic
    atoms = crystal("fcc", "Cu", volume=11.8, cells=2)
    assert gaps(pot, atoms, distorted(atoms, 2, seed=3)).max() < TOL


def test_write_read_round_trip(tmp_path, cu_q):
    paths = cu_q.write(tmp_path, "cu_q")
    assert "quadraticflag 1" in paths["snapparam"].read_text()
    assert SnapCoeff.read(paths["snapcoeff"]).n_coefficients == 496
    again = load_potential(str(paths["snap"]))
    assert np.array_equal(again.theta, cu_q.theta) and again.beta0() == cu_q.beta0()
    assert again.spec.compatible_with(cu_q.spec) is None
    assert again.spec.labels == cu_q.spec.labels


def test_perturbed_theta_in_lammps(tmp_path, cu_q):
    """A tuned quadratic potential written to disk: LAMMPS gives N[β0 + θ'·D]."""
    rng = np.random.default_rng(4)
    theta = cu_q.theta * (1.0 + 0.02 * rng.standard_normal(cu_q.theta.size))
    tuned = cu_q.with_theta(theta, name="Cu_q_tuned")
    assert np.array_equal(tuned.theta, theta)
    atoms = crystal("fcc", "Cu", volume=11.8, cells=2)
    xs = distorted(atoms, 2, seed=5)
    assert gaps(tuned, atoms, xs, workdir=tmp_path).max() < TOL
    e_old = ForceEvaluator(atoms, cu_q).energy_forces(xs[0])[0]
    e_new = ForceEvaluator(atoms, tuned, workdir=tmp_path).energy_forces(xs[0])[0]
    assert abs(e_new - e_old) / len(atoms) > 1e-3  # the quadratic block really changed
    with pytest.raises(PotentialError, match=r"expected \(495,\)"):
        cu_q.with_theta(theta[:K])


def _coeff_file(path, n):
    path.write_text(f"1 {n}\nCu 0.5 1\n" + "0.01\n" * n)
    return path


def test_quadratic_coefficient_count_is_named(tmp_path):
    (tmp_path / "q.snapparam").write_text("rcutfac 3.9\ntwojmax 6\nquadraticflag 1\n")
    with pytest.raises(PotentialError, match=r"needs 496 \(1 constant \+ 30 linear \+ 465 "
                                             r"quadratic\)") as info:
        load_potential(str(_coeff_file(tmp_path / "q.snapcoeff", 31)))
    assert "quadraticflag 0" in info.value.hint
    with pytest.raises(PotentialError, match="needs 496"):
        load_potential(str(_coeff_file(tmp_path / "q.snapcoeff", 400)))
    (tmp_path / "l.snapparam").write_text("rcutfac 3.9\ntwojmax 6\n")
    with pytest.raises(PotentialError, match=r"needs 31 .*") as info:
        load_potential(str(_coeff_file(tmp_path / "l.snapcoeff", 496)))
    assert "quadraticflag 1" in info.value.hint


def test_descriptors_recorded_in_ti_md(cu_q):
    """The on-the-fly D of TI MD (compute reduce of the quadratic compute) satisfies the identity
    with the MD's own U_θ at every recorded step."""
    from phasetune.ti import harmonic_reference
    from phasetune.ti.md import U_THETA, CoupledMD, MDSettings

    atoms = crystal("fcc", "Cu", volume=11.8, cells=2)
    ref = harmonic_reference(atoms, cu_q)
    md = CoupledMD(atoms, ref, cu_q.original, 600.0, MDSettings(stride=5, chunk=10),
                   mode="plain", descriptors=cu_q.spec)
    try:
        assert len(md.descriptor_variables) == 495
        rng = np.random.default_rng(6)
        md.set_state(ref.sample_displacements(rng, 600.0), ref.sample_velocities(rng, 600.0))
        md.set_thermostat(77)
        rec = md.run(10, record=(U_THETA, *md.descriptor_variables))
    finally:
        md.close()
    assert rec.shape == (3, 2 + 495)
    n = len(atoms)
    gap = rec[:, 1] / n - (cu_q.beta0() + rec[:, 2:] @ cu_q.theta)
    assert np.abs(gap).max() < TOL


def test_hessian_campaign_end_to_end(tmp_path, cu_q):
    """A tiny campaign on 32-atom FCC Cu with the quadratic potential: the archive holds
    N_D = 495, the identity check passes, and the estimator predicts."""
    from phasetune.archive.hdf5 import read_archive
    from phasetune.campaign.runner import run_campaign
    from phasetune.campaign.spec import load_campaign
    from phasetune.estimator.ddos import DDOSEstimator

    data = {"phases": [{"name": "fcc", "structure": "fcc", "element": "Cu", "cells": 2,
                        "volumes": [11.8]}],
            "reference": {"potential": CU_Q},
            "descriptors": {"potential": CU_Q},
            "isosurfaces": {"temperatures": [300, 900], "count": 2},
            "samples": {"per_isosurface": 20, "chunk": 10}, "seed": 3, "archive": "cu.h5"}
    path = tmp_path / "cu.yaml"
    path.write_text(yaml.safe_dump(data))
    spec = load_campaign(path)
    assert run_campaign(spec, workers=1, quiet=True).complete
    pv = read_archive(spec.archive_path).get("fcc")
    assert pv.descriptors.n_components == 495 and pv.descriptors.labels == cu_q.spec.labels
    assert [s.count for s in pv.shells] == [20, 20]
    assert pv.provenance["pilot"] == 20  # min(max(10 N_D, 500), samples per shell)
    # D0 reproduces the reference energy (the campaign checked it; check again here)
    assert abs(pv.reference.E0 - (cu_q.beta0() + cu_q.theta @ pv.reference.D0)) < 1e-6
    out = DDOSEstimator(pv).predict(cu_q.theta, np.array([300.0]))
    assert np.isfinite(out.F_total).all()
    assert abs(out.F_total[0, 0] - pv.reference.E0) < 0.1
