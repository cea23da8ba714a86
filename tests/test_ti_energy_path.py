"""Energy-path TI between two potentials (ti/energy_path.py): exact answers for an ML-IAP nn
model whose output bias is shifted, agreement with route C between linear SNAP potentials and
between the two quadratures for a non-linear change, resume, the CLI, and route A on nn."""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from phasetune.cli.main import cli
from phasetune.errors import PhasetuneError
from phasetune.potentials.linear import PairPotential
from phasetune.potentials.registry import lammps_potentials_dir, load_potential
from phasetune.structures.crystals import crystal
from phasetune.ti import LambdaSettings, ThetaPathSettings, thermodynamic_integration, theta_path
from phasetune.ti.energy_path import EnergyPathSettings, energy_path
from phasetune.ti.md import mixed_pair_commands

# the module: the package exports a function of the same name
ep = importlib.import_module("phasetune.ti.energy_path")

CU_VOLUME = 11.8
"""Å³/atom: close to the Cu nn model's zero-pressure volume."""
NET = (30, 2, 2, 1)
"""Layer widths of the shipped Cu.nn.mliap.model (30 descriptors, tanh 2, tanh 2, linear 1);
each node stores its bias, then its input weights."""
OUTPUT_BIAS = (NET[0] + 1) * NET[1] + (NET[1] + 1) * NET[2]
FIRST_LAYER_WEIGHTS = [k * (NET[0] + 1) + 1 + i for k in range(NET[1]) for i in range(NET[0])]


def cu_nn(directory: Path, name: str, edit=None) -> PairPotential:
    """A ``.mliap`` include of the shipped Cu nn model, its coefficients changed by ``edit``
    (a function of the (71,) coefficient vector) in a copied model file, loaded by name, in its
    LAMMPS form."""
    base = lammps_potentials_dir()
    lines = (base / "Cu.nn.mliap.model").read_text().splitlines()
    start = lines.index("# Coefficients") + 1
    coeffs = np.array(" ".join(lines[start:]).split(), dtype=float)
    assert coeffs.size == 71
    if edit is not None:
        coeffs = edit(coeffs.copy())
    rows = [" ".join(f"{x:.16g}" for x in coeffs[i:i + 5]) for i in range(0, coeffs.size, 5)]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.model").write_text("\n".join(lines[:start] + rows) + "\n")
    shutil.copy(base / "Cu.snap.mliap.descriptor", directory / "Cu.descriptor")
    include = directory / f"{name}.mliap"
    include.write_text(f"pair_style mliap model nn {name}.model descriptor sna Cu.descriptor\n"
                       "pair_coeff * * Cu\n")
    return load_potential(str(include)).pair_potential(directory)


def shift_bias(b: float):
    def edit(c):
        c[OUTPUT_BIAS] += b
        return c
    return edit


def cu_atoms():
    return crystal("fcc", "Cu", volume=CU_VOLUME, cells=2)  # 32 atoms


QUICK = EnergyPathSettings(n_nodes=0, ends=True, equilibration=0, production=50)


def test_nn_include_loads_with_the_descriptor_cutoff(tmp_path):
    pot = cu_nn(tmp_path, "cu")
    assert pot.cutoff == pytest.approx(2 * 5.0 * 0.5)  # 2·rcutfac·radelem
    assert pot.elements == ("Cu",)
    assert all(Path(f).is_file() for f in pot.files) and len(pot.files) == 2
    ta = load_potential("lammps:Ta06A.nn").pair_potential(tmp_path)  # zbl 4 4.8 + mliap
    assert ta.cutoff == pytest.approx(4.8)
    assert ta.pair_style[0] == "hybrid/overlay" and Path(ta.pair_style[7]).is_absolute()


def test_two_mliap_models_get_instance_indices(tmp_path):
    a, b = cu_nn(tmp_path, "a"), cu_nn(tmp_path, "b", shift_bias(0.1))
    cmds, computes = mixed_pair_commands(a, b, "s0", "s1", {"mliap", "zbl"})
    assert cmds[0].startswith("pair_style hybrid/scaled v_s0 mliap model nn")
    assert " v_s1 mliap model nn " in cmds[0]
    assert cmds[1:] == ["pair_coeff * * mliap 1 Cu", "pair_coeff * * mliap 2 Cu"]
    assert computes == [["mliap 1"], ["mliap 2"]]
    ta = load_potential("lammps:Ta06A.nn").pair_potential(tmp_path)
    cmds, computes = mixed_pair_commands(ta, a, "s0", "s1", {"mliap", "zbl"})
    assert computes == [["zbl", "mliap 1"], ["mliap 2"]]
    assert "pair_coeff 1 1 zbl 73 73" in cmds


def test_shifted_output_bias_gives_exactly_b(tmp_path):
    """E_1 = E_0 + N·b on every configuration, so f(λ) = b at every λ with zero variance:
    δF = b exactly from both quadratures, and U_λ = (1 − λ)U_0 + λU_1 at every record."""
    b = 0.0123
    u0, u1 = cu_nn(tmp_path, "u0"), cu_nn(tmp_path, "u1", shift_bias(b))
    settings = EnergyPathSettings(n_nodes=2, ends=True, equilibration=0, production=50)
    result = energy_path(cu_atoms(), u0, u1, [500.0], repeats=1, seed=3, progress=False,
                         settings=settings)
    p = result.points[0]
    assert abs(p.delta_F - b) < 1e-12 and p.sigma < 1e-12
    for kind in ("gauss_legendre", "ends"):
        assert abs(p.estimate(kind)["delta_F"] - b) < 1e-12
    rows = p.segments()
    assert [r["lambda"] for r in rows][::3] == [1.0, 0.0]
    assert all(r["mix_error"] < 1e-12 and r["var"] < 1e-24 for r in rows)
    d = result.to_dict()
    assert d["method"] == "energy-path" and d["F_end"] is None
    assert json.loads(json.dumps(d))["temperatures"][0]["ends"]["correction"] == 0.0


def test_resume_after_an_interruption_gives_the_uninterrupted_result(tmp_path, monkeypatch):
    u0, u1 = cu_nn(tmp_path, "u0"), cu_nn(tmp_path, "u1", shift_bias(-0.004))
    atoms, ckpt = cu_atoms(), tmp_path / "path.json"
    args = dict(repeats=2, seed=5, progress=False, settings=QUICK)
    whole = energy_path(atoms, u0, u1, [400.0], **args)
    original, calls = ep._repeat, []

    def interrupted(*a, **k):
        calls.append(a[5])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(*a, **k)

    monkeypatch.setattr(ep, "_repeat", interrupted)
    with pytest.raises(KeyboardInterrupt):
        energy_path(atoms, u0, u1, [400.0], checkpoint=str(ckpt), **args)
    calls.clear()
    resumed = energy_path(atoms, u0, u1, [400.0], checkpoint=str(ckpt), **args)
    assert calls == [1]  # only the unfinished repeat ran again
    a, b = whole.points[0], resumed.points[0]
    assert [r.components for r in a.repeats] == [r.components for r in b.repeats]
    with pytest.raises(PhasetuneError, match="different run"):
        energy_path(atoms, u0, u1, [400.0], checkpoint=str(ckpt),
                    **{**args, "seed": 6})


def test_refusals(tmp_path, mo):
    u0 = cu_nn(tmp_path, "u0")
    with pytest.raises(PhasetuneError, match="different elements"):
        energy_path(cu_atoms(), u0, mo, [300.0], progress=False, settings=QUICK)
    with pytest.raises(PhasetuneError, match="cutoff"):
        energy_path(crystal("fcc", "Cu", volume=CU_VOLUME, cells=1), u0, u0, [300.0],
                    progress=False, settings=QUICK)
    with pytest.raises(PhasetuneError, match="nodes"):
        EnergyPathSettings(n_nodes=0, ends=False)


def test_cli_energy_path_prints_delta_f(tmp_path):
    b = 0.0075
    cu_nn(tmp_path, "u0")
    cu_nn(tmp_path, "u1", shift_bias(b))
    base = ["ti", "--structure", "fcc", "--element", "Cu", "--volume", str(CU_VOLUME),
            "--cells", "2", "--potential", str(tmp_path / "u0.mliap"),
            "--to", str(tmp_path / "u1.mliap"), "-T", "500", "--nodes", "0", "--steps", "40",
            "--repeats", "2", "--no-progress"]
    out = CliRunner().invoke(cli, [*base, "--json"])
    assert out.exit_code == 0, out.output
    d = json.loads(out.output)
    assert abs(d["temperatures"][0]["delta_F"] - b) < 1e-12
    assert d["temperatures"][0]["gauss_legendre"] is None
    assert d["settings"]["energy_path"]["production"] == 40
    text = CliRunner().invoke(cli, base)
    assert text.exit_code == 0, text.output
    assert f"{1e3 * b:.4f}" in text.output and "U_1 = u1" in text.output
    no_to = [w for i, w in enumerate(base) if "--to" not in (w, base[i - 1])]
    bad = CliRunner().invoke(cli, [*no_to, "--absolute"])
    assert bad.exit_code != 0 and "--to" in bad.output


def test_route_a_on_nn_and_the_absolute_end(tmp_path):
    """Route A runs an nn model end to end; with the same seed, the bias-shifted model's
    trajectories are identical, so F(U_1) − F(U_0) = b to round-off in every convention, and
    the energy path's F(U_1) (anchor + δF) equals route A on U_1."""
    b = 0.02
    u0, u1 = cu_nn(tmp_path, "u0"), cu_nn(tmp_path, "u1", shift_bias(b))
    atoms = cu_atoms()
    lam = LambdaSettings(n_nodes=2, equilibration=0, production=60, endpoint=False)
    kw = dict(repeats=1, seed=2, progress=False, lambda_settings=lam)
    ti0 = thermodynamic_integration(atoms, u0, [300.0], **kw)
    ti1 = thermodynamic_integration(atoms, u1, [300.0], **kw)
    assert np.isfinite(ti0.F[0])
    assert abs(ti1.points[0].F_com_fixed - ti0.points[0].F_com_fixed - b) < 1e-9
    path = energy_path(atoms, u0, u1, [300.0], repeats=1, progress=False, settings=QUICK,
                       anchor=ti0)
    row = path.end_free_energy()[0]
    for key in ("F_3N-3", "F_3N", "F_phys"):
        assert abs(row[key] - ti1.points[0].variants[key]) < 1e-9


@pytest.mark.slow
def test_linear_snap_energy_path_matches_theta_path(mo, tmp_path):
    """16-atom BCC Mo at 600 K, θ1 = 1.003·θ0 written by LinearPotential.with_theta(...).write:
    the energy path (any potentials) and route C (linear only) estimate the same δF."""
    atoms = crystal("bcc", "Mo", volume=15.9, cells=2)
    theta1 = 1.003 * mo.theta
    mo1 = mo.with_theta(theta1, name="Mo_scaled")
    paths = mo1.write(tmp_path, "mo_scaled")
    end = load_potential(str(paths["snap"]))
    assert np.allclose(end.theta, theta1)
    settings = EnergyPathSettings(n_nodes=2, ends=True, equilibration=100, production=600)
    path = energy_path(atoms, mo, end, [600.0], repeats=2, seed=1, progress=False,
                       settings=settings)
    route_c = theta_path(atoms, mo, theta1[None, :], [600.0], repeats=2, seed=1,
                         progress=False,
                         settings=ThetaPathSettings(equilibration=100, production=600))
    p = path.points[0]
    gl, ends = p.estimate("gauss_legendre"), p.estimate("ends")
    c, sc = route_c.delta_F[0, 0], route_c.sigma[0, 0]
    print(f"\nMo energy path G–L {1e3 * gl['delta_F']:.4f} ± {1e3 * gl['sigma']:.4f}, ends "
          f"{1e3 * ends['delta_F']:.4f} ± {1e3 * ends['sigma']:.4f}, route C {1e3 * c:.4f} ± "
          f"{1e3 * sc:.4f} meV/atom; CPU {p.to_dict()['cpu_seconds']:.1f} s vs "
          f"{route_c.cpu_seconds[0]:.1f} s")
    for est in (gl, ends):
        assert abs(est["delta_F"] - c) < 3 * np.hypot(est["sigma"], sc)
    assert abs(c) > 10 * sc  # a resolved difference, not two zeros


@pytest.mark.slow
def test_scaled_nn_layer_quadratures_agree(tmp_path):
    """First-layer weights ×1.05 (a non-linear change of E): the Gauss–Legendre and the
    end-point Euler–Maclaurin estimates agree within σ, and δF lies between f(1) and f(0)
    (f′ = −βN·Var ≤ 0)."""
    def scale(c):
        c[FIRST_LAYER_WEIGHTS] *= 1.05
        return c

    u0, u1 = cu_nn(tmp_path, "u0"), cu_nn(tmp_path, "u1", scale)
    settings = EnergyPathSettings(n_nodes=2, ends=True, equilibration=100, production=500)
    result = energy_path(cu_atoms(), u0, u1, [600.0], repeats=2, seed=4, progress=False,
                         settings=settings)
    p = result.points[0]
    gl, ends = p.estimate("gauss_legendre"), p.estimate("ends")
    f = {r["lambda"]: r for r in p.segments()}
    print(f"\nCu nn ×1.05: G–L {1e3 * gl['delta_F']:.4f} ± {1e3 * gl['sigma']:.4f}, ends "
          f"{1e3 * ends['delta_F']:.4f} ± {1e3 * ends['sigma']:.4f} (E–M correction "
          f"{1e3 * ends['correction']:.4f}) meV/atom; f(0) {1e3 * f[0.0]['f']:.4f}, f(1) "
          f"{1e3 * f[1.0]['f']:.4f}; CPU {p.to_dict()['cpu_seconds']:.1f} s")
    assert abs(gl["delta_F"] - ends["delta_F"]) < 3 * np.hypot(gl["sigma"], ends["sigma"])
    assert abs(gl["delta_F"]) > 5 * gl["sigma"]
    tol = 3 * gl["sigma"]
    assert f[1.0]["f"] - tol <= gl["delta_F"] <= f[0.0]["f"] + tol
    assert not result.warnings or all("one repeat" not in w for w in result.warnings)
