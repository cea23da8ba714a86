"""Campaign YAML validation and the isosurface grid."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml

from phasetune.campaign.isosurfaces import isosurface_grid
from phasetune.campaign.spec import load_campaign, parse_campaign
from phasetune.errors import ConfigError
from phasetune.model.harmonic import harmonic_alpha
from phasetune.testsystems import synthetic_reference

BASE = {
    "phases": [{"name": "bcc", "structure": "bcc", "element": "Mo", "cells": 2,
                "volumes": [15.9]}],
    "reference": {"potential": "lammps:Mo_Chen_PRM2017"},
    "isosurfaces": {"temperatures": [300, 3000], "count": 12},
    "samples": {"per_isosurface": 100, "chunk": 20},
    "seed": 1,
    "archive": "out/mo.h5",
}


def _error(mutate) -> str:
    data = copy.deepcopy(BASE)
    mutate(data)
    with pytest.raises(ConfigError) as info:
        parse_campaign(data, "/tmp")
    return str(info.value)


def test_valid_campaign_resolves_paths(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(BASE))
    spec = load_campaign(path)
    assert spec.archive == str(tmp_path / "out" / "mo.h5")
    assert spec.phases[0].cells == (2, 2, 2)
    assert spec.flavour == "hessian" and spec.samples.n_chunks == 5


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda d: d["phases"][0].update(strcture="bcc"),
     ["phases[0].strcture", "unknown key", "structure, element"]),
    (lambda d: d.update(executr={}), ["executr", "unknown key", "executor"]),
    (lambda d: d["phases"][0].update(structure="bbc"),
     ["phases[0].structure", "'bbc'", "'bcc'", "'a15'"]),
    (lambda d: d["phases"][0].update(volumes=[-15.9]),
     ["phases[0].volumes[0]", "greater than 0"]),
    (lambda d: d["reference"].update(potential="missing.snap"),
     ["reference.potential", "not found", "missing.snap"]),
    (lambda d: d["isosurfaces"].update(temperatures=[3000, 300]),
     ["isosurfaces.temperatures", "T_lo < T_hi"]),
    (lambda d: d.update(flavour="md"), ["flavour", "'hessian'", "'kinetic'"]),
    (lambda d: d.pop("seed"), ["seed", "missing"]),
    (lambda d: d["phases"][0].update(cells=[2, 2]), ["phases[0].cells", "three"]),
    (lambda d: d["isosurfaces"].update(spacing=0.1), ["isosurfaces", "count", "spacing"]),
    (lambda d: d.update(descriptors={"snapparam": "x.snapparam"}),
     ["descriptors", "elements", "radii"]),
])
def test_bad_campaigns_name_the_key(mutate, expected):
    message = _error(mutate)
    for text in expected:
        assert text in message, message


def test_bad_yaml_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("phases: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_campaign(path)
    with pytest.raises(ConfigError, match="not found"):
        load_campaign(tmp_path / "absent.yaml")


def _reference(omega_bar: float):
    """A harmonic reference of 16 atoms whose stable modes all have curvature ω̄ (eV/Å²)."""
    return synthetic_reference(16, np.full(45, omega_bar), 95.95, 1)


def test_grid_covers_requested_temperatures_with_margin():
    spec = parse_campaign(BASE, "/tmp")
    omega_bar = 13.5
    ref = _reference(omega_bar)
    alphas, warnings, _ = isosurface_grid(spec.isosurfaces, ref)
    assert len(alphas) == 12 and np.all(np.diff(alphas) > 0)
    assert alphas[0] == pytest.approx(harmonic_alpha(200.0, omega_bar, 3.0))
    assert alphas[-1] == pytest.approx(harmonic_alpha(4500.0, omega_bar, 3.0))
    assert not warnings  # spacing 0.28 < ln 1.5
    tight = spec.isosurfaces.model_copy(update={"cover": 1.05})
    _, warnings, _ = isosurface_grid(tight, ref)
    assert warnings and "isosurfaces.cover" in warnings[0]


def test_spacing_grid_is_a_fixed_lattice():
    data = copy.deepcopy(BASE)
    data["isosurfaces"] = {"temperatures": [300, 3000], "spacing": 0.1}
    spec = parse_campaign(data, "/tmp")
    narrow, _, _ = isosurface_grid(spec.isosurfaces, _reference(13.5))
    wide_spec = spec.isosurfaces.model_copy(update={"temperatures": (300.0, 4000.0)})
    wide, _, _ = isosurface_grid(wide_spec, _reference(13.5))
    assert np.allclose(narrow / 0.1, np.round(narrow / 0.1))
    assert set(np.round(narrow, 9)) <= set(np.round(wide, 9))  # widening keeps old shells
