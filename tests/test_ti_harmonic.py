"""TI of an exactly harmonic potential equals its analytic free energy within the error bar."""

from __future__ import annotations

import numpy as np
import pytest

from phasetune.potentials.registry import load_potential
from phasetune.structures.crystals import crystal
from phasetune.ti import LambdaSettings, harmonic_reference, thermodynamic_integration


@pytest.fixture(scope="module")
def system():
    """Reference: the Hessian of EAM Fe (bcc, 16 atoms).  Target: a harmonic crystal with the
    same modes and eigenvalues scaled by random factors in [0.7, 1.4] (U_θ ≠ U_H)."""
    pot = load_potential("lammps:Fe_mm.eam.fs", element="Fe")
    atoms = crystal("bcc", "Fe", volume=11.8, cells=2)
    ref = harmonic_reference(atoms, pot)
    rng = np.random.default_rng(3)
    target = ref.with_omega(ref.omega * rng.uniform(0.7, 1.4, ref.n_modes), name="harmonic")
    return atoms, ref, target


def test_lambda_integration_of_a_harmonic_target_is_exact(system):
    atoms, ref, target = system
    t = 800.0
    exact = float(target.free_energy(t))  # E0 + (k_BT/N)Σ ln(ħΩ′/k_BT), n = 3N − 3 modes
    assert abs(exact - float(ref.free_energy(t))) > 2e-3  # the integral is not trivial
    res = thermodynamic_integration(
        atoms, target, [t], repeats=3, seed=1, progress=False, reference=ref,
        lambda_settings=LambdaSettings(n_nodes=6, equilibration=300, production=1500,
                                       endpoint=False))
    p = res.points[0]
    assert p.sigma < 0.5e-3
    assert abs(p.F_com_fixed - exact) < 3 * p.sigma
    v = p.variants
    assert v["F_phys"] - v["F_3N-3"] == pytest.approx(v["f_trans"], abs=1e-14)


def test_frenkel_ladd_of_a_harmonic_target_is_exact(system):
    """Einstein springs (fix ti/spring) → the harmonic reference itself, 4 switching cycles."""
    atoms, ref, _ = system
    t = 600.0
    exact = float(ref.free_energy(t))
    res = thermodynamic_integration(atoms, ref, [t], method="frenkel-ladd", repeats=4, steps=4000,
                                    seed=2, progress=False, reference=ref)
    p = res.points[0]
    assert 0 < p.sigma < 1.5e-3
    assert abs(p.F_com_fixed - exact) < 3 * p.sigma
    assert abs(p.component_means()["dissipation"]) < 3e-3


def test_gibbs_helmholtz_curve_of_a_harmonic_target(system):
    """One TI anchor + λ = 1 energies: F(T) of a harmonic crystal at every T within σ."""
    from phasetune.ti import free_energy_curve

    atoms, ref, target = system
    temps = [400.0, 600.0, 800.0]
    curve = free_energy_curve(
        atoms, target, temps, repeats=2, seed=4, progress=False, reference=ref,
        lambda_settings=LambdaSettings(n_nodes=4, equilibration=200, production=2000,
                                       endpoint=False))
    exact = target.free_energy(np.array(temps))
    assert np.all(np.abs(curve.F_com_fixed - exact) < 3 * curve.sigma + 1e-12)
    assert curve.sigma[0] == pytest.approx(curve.anchor.sigma)
    rows = curve.to_dict()["temperatures"]
    assert [r["T"] for r in rows] == temps and all("F_phys" in r for r in rows)
