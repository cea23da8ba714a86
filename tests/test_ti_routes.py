"""Frenkel–Ladd and λ-integration agree within their combined error bars (EAM and SNAP).

The CI-sized versions are short (error bars of ~0.3–1.5 meV/atom); the ``slow`` versions are the
same comparisons with runs long enough for sub-meV agreement."""

from __future__ import annotations

import numpy as np
import pytest

from phasetune.potentials.registry import load_potential
from phasetune.structures.crystals import crystal
from phasetune.ti import FrenkelLaddSettings, LambdaSettings, thermodynamic_integration


def _compare(atoms, pot, t, lam_settings, lam_repeats, fl_settings, fl_repeats):
    a = thermodynamic_integration(atoms, pot, [t], repeats=lam_repeats, seed=11, progress=False,
                                  lambda_settings=lam_settings).points[0]
    b = thermodynamic_integration(atoms, pot, [t], method="frenkel-ladd", repeats=fl_repeats,
                                  seed=12, progress=False, fl_settings=fl_settings).points[0]
    combined = np.hypot(a.sigma, b.sigma)
    print(f"\n{atoms.info['structure']} {pot.name} {t} K: lambda {a.F_com_fixed:.6f} ± "
          f"{a.sigma * 1e3:.3f} meV, FL {b.F_com_fixed:.6f} ± {b.sigma * 1e3:.3f} meV, "
          f"difference {(a.F_com_fixed - b.F_com_fixed) * 1e3:+.3f} meV, "
          f"dissipation {b.component_means()['dissipation'] * 1e3:.3f} meV")
    assert np.isfinite(combined) and combined > 0
    assert abs(a.F_com_fixed - b.F_com_fixed) < 3 * combined
    # both routes report the same bookkeeping around their own F^(3−3/N)
    assert a.variants["f_trans"] == pytest.approx(b.variants["f_trans"], rel=1e-12)
    return a, b


def test_eam_fe_routes_agree():
    pot = load_potential("lammps:Fe_mm.eam.fs", element="Fe")
    atoms = crystal("bcc", "Fe", volume=11.8, cells=2)
    a, b = _compare(atoms, pot, 600.0,
                    LambdaSettings(n_nodes=4, equilibration=300, production=1500), 3,
                    FrenkelLaddSettings(equilibration=1000, switching=6000), 4)
    assert a.sigma < 0.5e-3 and b.sigma < 1.0e-3


def test_snap_mo_routes_agree(mo):
    atoms = crystal("bcc", "Mo", volume=15.9, cells=2)
    _compare(atoms, mo, 400.0,
             LambdaSettings(n_nodes=4, equilibration=100, production=400, endpoint=False), 2,
             FrenkelLaddSettings(equilibration=200, switching=1200), 2)


@pytest.mark.slow
def test_eam_fe_routes_agree_tightly():
    pot = load_potential("lammps:Fe_mm.eam.fs", element="Fe")
    atoms = crystal("bcc", "Fe", volume=11.8, cells=2)
    a, b = _compare(atoms, pot, 1000.0, LambdaSettings(n_nodes=8), 4,
                    FrenkelLaddSettings(equilibration=4000, switching=40000), 8)
    assert np.hypot(a.sigma, b.sigma) < 0.4e-3


@pytest.mark.slow
def test_snap_mo_routes_agree_tightly(mo):
    atoms = crystal("bcc", "Mo", volume=15.9, cells=2)
    a, b = _compare(atoms, mo, 1500.0, LambdaSettings(n_nodes=8, production=3000), 3,
                    FrenkelLaddSettings(equilibration=3000, switching=16000), 6)
    assert np.hypot(a.sigma, b.sigma) < 0.6e-3
