"""The λ-mixed Hamiltonian in LAMMPS: hybrid/scaled + fix external are exactly λU_θ + (1−λ)U_H."""

from __future__ import annotations

import numpy as np
import pytest

from phasetune.engine.calculators import ForceEvaluator
from phasetune.potentials.registry import load_potential
from phasetune.structures.crystals import crystal
from phasetune.ti import harmonic_reference
from phasetune.ti.md import U_HARMONIC, U_THETA, CoupledMD, MDSettings, scaled_pair_commands


@pytest.fixture(scope="module")
def fe():
    pot = load_potential("lammps:Fe_mm.eam.fs", element="Fe")
    atoms = crystal("bcc", "Fe", volume=11.8, cells=2)
    return pot, atoms, harmonic_reference(atoms, pot)


def test_scaled_pair_commands():
    known = {"snap", "zbl", "eam/fs"}
    w = load_potential("lammps:W_2940_2017_2").original
    cmds = scaled_pair_commands(w, "lam", known)
    assert cmds[0] == "pair_style hybrid/scaled v_lam zbl 4 4.8 v_lam snap"
    assert cmds[1:] == w.commands()[1:]
    fe = load_potential("lammps:Fe_mm.eam.fs", element="Fe")
    cmds = scaled_pair_commands(fe, "lam", known)
    assert cmds[0] == "pair_style hybrid/scaled v_lam eam/fs"
    assert cmds[1].startswith("pair_coeff * * eam/fs ") and cmds[1].endswith(" Fe")


@pytest.mark.parametrize("lam", [0.3, 1.0])
def test_lambda_mix_is_exact(fe, lam):
    """Forces and recorded energies at λ equal λ(U_θ, F_θ) + (1 − λ)(U_H, F_H) to round-off."""
    pot, atoms, ref = fe
    rng = np.random.default_rng(5)
    x = ref.positions + ref.sample_displacements(rng, 800.0)
    u_theta, f_theta = ForceEvaluator(atoms, pot).energy_forces(x)
    u_h, f_h = ref.energy_forces(x)
    md = CoupledMD(atoms, ref, pot, 800.0, MDSettings(), mode="lambda")
    try:
        md.set_lambda(lam)
        md.engine.evaluate(x)
        np.testing.assert_allclose(md.engine.forces(), lam * f_theta + (1 - lam) * f_h,
                                   atol=1e-11)
        assert md.engine.lmp.extract_variable(U_THETA) == pytest.approx(u_theta, abs=1e-9)
        assert md.engine.lmp.extract_variable(U_HARMONIC) == pytest.approx(u_h, abs=1e-9)
    finally:
        md.close()


def test_langevin_md_keeps_the_centre_of_mass_and_temperature(fe):
    """COM fixed to round-off; ⟨U_H − N E0⟩ = (n/2) k_BT for a harmonic target (equipartition)."""
    _, atoms, ref = fe
    t = 500.0
    md = CoupledMD(atoms, ref, ref, t, MDSettings(), mode="lambda")
    try:
        md.engine.commands(["variable cx equal xcm(all,x)", "variable cz equal xcm(all,z)"])
        rng = np.random.default_rng(0)
        md.set_state(ref.sample_displacements(rng, t), ref.sample_velocities(rng, t))
        md.set_thermostat(4242)
        rec = md.run(6000, record=(U_HARMONIC, "cx", "cz"))
    finally:
        md.close()
    assert np.ptp(rec[:, 2]) < 1e-9 and np.ptp(rec[:, 3]) < 1e-9
    kt = 8.617333262e-5 * t
    ratio = (rec[:, 1] - ref.n_atoms * ref.E0).mean() / (0.5 * ref.n_modes * kt)
    assert ratio == pytest.approx(1.0, abs=0.06)


def test_reference_from_a_campaign(fe):
    """A D-DOS campaign's HarmonicReference gives the same harmonic model and cell."""
    from phasetune.harmonic.reference import build_reference
    from phasetune.ti import atoms_from_reference

    pot, atoms, ref = fe
    reference = build_reference(atoms, pot)
    rebuilt = atoms_from_reference(reference, "Fe")
    assert rebuilt.info["n_trans"] == 16 and np.allclose(rebuilt.cell, atoms.cell)
    model = harmonic_reference(rebuilt, pot, reference=reference)
    assert model.E0 == pytest.approx(reference.E0, abs=1e-10)
    assert model.sha256 == ref.sha256
