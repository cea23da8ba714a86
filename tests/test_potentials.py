"""SNAP files: faithful reading/writing, validation with clear errors, linear potential model."""

from __future__ import annotations

import numpy as np
import pytest

from phasetune.errors import PotentialError
from phasetune.potentials.linear import LinearPotential
from phasetune.potentials.registry import lammps_potentials_dir, load_potential
from phasetune.potentials.snap_files import SnapCoeff, SnapParams, bispectrum_count


def test_bispectrum_count_matches_shipped_files(mo, w):
    assert bispectrum_count(mo.spec.params.twojmax) == len(mo.theta)
    assert bispectrum_count(w.spec.params.twojmax) + 1 == len(w.theta)  # + fixed ZBL


def test_shipped_potentials_resolve(mo, w):
    assert isinstance(mo, LinearPotential) and isinstance(w, LinearPotential)
    assert mo.elements == ("Mo",) and not mo.spec.has_fixed
    assert w.spec.fixed_style == ("zbl", "4", "4.8")
    assert w.spec.fixed_mask.tolist() == [False] * 55 + [True]
    assert w.theta[-1] == 1.0
    raw = np.loadtxt(lammps_potentials_dir() / "Mo_Chen_PRM2017.snapcoeff", skiprows=4)
    assert mo.beta0() == raw[0] and np.array_equal(mo.theta, raw[1:])


def test_snapcoeff_roundtrip(tmp_path, w):
    src = lammps_potentials_dir() / "W_2940_2017_2.snapcoeff"
    coeff = SnapCoeff.read(src)
    coeff.write(tmp_path / "x.snapcoeff")
    again = SnapCoeff.read(tmp_path / "x.snapcoeff")
    assert again.comments == coeff.comments
    assert np.array_equal(again.elements[0].coefficients, coeff.elements[0].coefficients)
    assert (again.elements[0].radius, again.elements[0].weight) == (0.5, 1.0)


def test_written_potential_reloads_with_same_theta(tmp_path, w):
    theta = w.theta.copy()
    theta[:55] *= 1.01
    tuned = w.with_theta(theta, name="W_tuned")
    paths = tuned.write(tmp_path, "W_tuned")
    again = load_potential(str(paths["snap"]))
    assert np.array_equal(again.theta, theta)
    assert again.spec.compatible_with(w.spec) is None
    assert again.beta0() == w.beta0()


def test_with_theta_validates(w):
    with pytest.raises(PotentialError, match=r"expected \(56,\)"):
        w.with_theta(np.zeros(10))
    bad = w.theta.copy()
    bad[-1] = 2.0
    with pytest.raises(PotentialError, match="fixed"):
        w.with_theta(bad)


def _write(path, text):
    path.write_text(text)
    return path


def test_non_numeric_coefficient_names_line(tmp_path):
    p = _write(tmp_path / "bad.snapcoeff", "# c\n1 3\nMo 0.5 1\n0.1\nabc\n0.3\n")
    with pytest.raises(PotentialError, match=r"bad.snapcoeff:5: non-numeric"):
        SnapCoeff.read(p)


def test_coefficient_count_vs_twojmax(tmp_path):
    c = _write(tmp_path / "p.snapcoeff", "1 6\nMo 0.5 1\n" + "0.1\n" * 6)
    _write(tmp_path / "p.snapparam", "rcutfac 4.6\ntwojmax 6\n")
    with pytest.raises(PotentialError, match="twojmax 6 .* needs 31"):
        load_potential(str(c))


def test_header_count_mismatch(tmp_path):
    p = _write(tmp_path / "h.snapcoeff", "1 5\nMo 0.5 1\n0.1\n0.2\n")
    with pytest.raises(PotentialError, match="header declares"):
        SnapCoeff.read(p)


def test_unknown_and_unsupported_params(tmp_path):
    p = _write(tmp_path / "a.snapparam", "rcutfac 4.6\ntwojmax 6\nrfacO 0.9\n")
    with pytest.raises(PotentialError, match=r"a.snapparam:3: unknown SNAP keyword 'rfacO'"):
        SnapParams.read(p)
    q = _write(tmp_path / "q.snapparam", "rcutfac 4.6\ntwojmax 6\nquadraticflag 1\n")
    SnapParams.read(q).check_supported(str(q))  # quadratic SNAP is supported (test_quadratic)
    c = _write(tmp_path / "c.snapparam", "rcutfac 4.6\ntwojmax 6\nchemflag 1\n")
    with pytest.raises(PotentialError, match="chem"):
        SnapParams.read(c).check_supported(str(c))
    m = _write(tmp_path / "m.snapparam", "twojmax 6\n")
    with pytest.raises(PotentialError, match="rcutfac"):
        SnapParams.read(m)


def test_missing_files_and_unknown_names(tmp_path):
    with pytest.raises(PotentialError, match="not found"):
        load_potential(str(tmp_path / "nope.snapcoeff"))
    with pytest.raises(PotentialError, match="shipped SNAP potentials"):
        load_potential("lammps:NoSuchPotential")
    lone = _write(tmp_path / "lone.snapcoeff", "1 2\nMo 0.5 1\n0\n1\n")
    with pytest.raises(PotentialError, match="snapparam"):
        load_potential(str(lone))


def test_element_not_in_coeff_file(tmp_path):
    src = lammps_potentials_dir()
    inc = _write(tmp_path / "x.snap",
                 f"pair_style snap\npair_coeff * * {src}/Mo_Chen_PRM2017.snapcoeff "
                 f"{src}/Mo_Chen_PRM2017.snapparam W\n")
    with pytest.raises(PotentialError, match="element 'W' is not in"):
        load_potential(str(inc))


def test_include_with_undefined_variable(tmp_path):
    inc = _write(tmp_path / "v.snap", "pair_style hybrid/overlay zbl ${a} 4.8 snap\n")
    with pytest.raises(PotentialError, match=r"v.snap:1: undefined variable \$\{a\}"):
        load_potential(str(inc))


def test_fe_snap_files(fe_data):
    fe = load_potential(str(fe_data / "X_Fe.snapcoeff"))
    assert fe.spec.n_components == 55 and fe.beta0() == 0.0
    assert fe.spec.params.rcutfac == 4.7 and fe.spec.params.twojmax == 8
