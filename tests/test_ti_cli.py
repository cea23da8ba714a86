"""``phasetune ti``: the JSON output holds every component of the result."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from phasetune.cli.main import cli

BASE = ["ti", "--structure", "bcc", "--element", "Fe", "--volume", "11.8", "--cells", "2",
        "--potential", "lammps:Fe_mm.eam.fs", "--repeats", "2", "--json", "--no-progress"]


def _run(args):
    result = CliRunner().invoke(cli, BASE + args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_lambda_json_has_every_component(tmp_path):
    out = _run(["-T", "300", "600", "--steps", "200", "--nodes", "2", "--modes", "3N-3",
                "--checkpoint", str(tmp_path / "ck.json"), "--plot", str(tmp_path / "f.png")])
    assert (tmp_path / "f.png").stat().st_size > 0 and (tmp_path / "ck.json").exists()
    for key in ("structure", "potential", "method", "convention", "reported_F", "n_atoms",
                "n_trans", "mass", "volume_box", "E0", "n_modes", "settings", "units",
                "gibbs_helmholtz", "warnings", "cpu_seconds"):
        assert key in out
    assert out["reported_F"] == "F_3N-3" and len(out["temperatures"]) == 2
    for p in out["temperatures"]:
        for key in ("T", "F", "sigma", "sigma_repeats", "sigma_block", "F_3N", "F_3N-3",
                    "F_phys", "f_trans", "harmonic_shift", "endpoint", "repeats", "equilibrated"):
            assert key in p
        c = p["components"]
        assert p["F_3N-3"] == pytest.approx(c["E0"] + c["F_harmonic"] + c["dF_anharmonic"],
                                            abs=1e-12)
        assert p["F"] == p["F_3N-3"]
        assert p["F_3N"] == pytest.approx(p["F_3N-3"] - p["harmonic_shift"], abs=1e-15)
        assert p["F_phys"] == pytest.approx(p["F_3N-3"] + p["f_trans"], abs=1e-15)
        assert {"U", "U_error", "U_anharmonic", "E"} <= set(p["endpoint"])
        nodes = p["repeats"][0]["components"]["nodes"]
        assert len(nodes) == 2 and {"lambda", "weight", "mean", "error"} <= set(nodes[0])
    assert out["gibbs_helmholtz"][0]["T"] == 600.0


def test_frenkel_ladd_json(tmp_path):
    out = _run(["-T", "500", "--method", "frenkel-ladd", "--steps", "400"])
    p = out["temperatures"][0]
    c = p["components"]
    for key in ("kappa", "einstein_frequency", "F_einstein", "F_einstein_phys", "W",
                "W_forward", "W_backward", "dissipation"):
        assert key in c
    assert p["F_3N-3"] == pytest.approx(c["F_einstein"] + c["W"], abs=1e-12)
    assert p["F_phys"] == pytest.approx(c["F_einstein_phys"] + c["W"], abs=1e-12)
    assert out["reported_F"] == "F_3N" and p["F"] == p["F_3N"]


def test_curve_json():
    out = _run(["-T", "300", "400", "--curve", "--steps", "200", "--nodes", "2"])
    assert out["anchor"]["T"] == 300.0 and "components" in out["anchor"]
    rows = out["temperatures"]
    assert [r["T"] for r in rows] == [300.0, 400.0]
    assert rows[0]["F"] == pytest.approx(out["anchor"]["F"], abs=1e-12)
    for r in rows:
        assert {"F", "sigma", "F_3N", "F_3N-3", "F_phys", "endpoint"} <= set(r)
