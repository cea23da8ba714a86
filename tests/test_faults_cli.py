"""Failures end in one line (or one JSON object) and exit 2; no silent NaN; one campaign per
archive; hints in the caller's terms; honest plots, progress and status messages; tuned
potentials say where they come from (issue 12)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from phasetune.cli.main import cli
from phasetune.errors import ConfigError, PotentialError

HARMONIC = ["harmonic", "--potential", "lammps:Mo_Chen_PRM2017", "-T", "300",
            "--structure", "bcc", "--volume", "15.9"]


def run(args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def lines(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip()]


# -- 1. the error boundary ------------------------------------------------------------------------
def test_json_error_is_one_object_on_stdout_with_exit_2():
    result = run(HARMONIC + ["--cells", "1", "--json"])
    assert result.exit_code == 2
    payload = json.loads(result.stdout)
    assert set(payload) == {"error", "hint", "type"}
    assert payload["type"] == "StructureError"
    assert "cell too small" in payload["error"] and payload["hint"] == "use at least --cells 2 2 2"
    assert result.stderr == ""


def test_plain_error_is_one_line_on_stderr_with_exit_2():
    result = run(HARMONIC + ["--cells", "1"])
    assert result.exit_code == 2 and result.stdout == ""
    (line,) = lines(result.stderr)
    assert line.startswith("phasetune: error: cell too small") and "(fix: " in line


def test_usage_errors_and_unexpected_errors_follow_the_same_format(monkeypatch):
    usage = run(["predict", "--json"])
    assert usage.exit_code == 2
    payload = json.loads(usage.stdout)
    assert payload["type"] == "MissingParameter" and "phasetune predict --help" in payload["hint"]
    early = run(["--bogus", "harmonic", "--json"])  # before the verb
    assert early.exit_code == 2 and json.loads(early.stdout)["type"] == "NoSuchOption"
    assert run(["harmonic", "--help"]).exit_code == 0

    def broken(*args, **kwargs):
        raise ValueError("boom\nsecond line")

    monkeypatch.setattr("phasetune.cli.harmonic.harmonic_analysis", broken)
    crash = run(HARMONIC + ["--cells", "2", "--json"])
    assert crash.exit_code == 2
    payload = json.loads(crash.stdout)
    assert payload["type"] == "ValueError" and payload["error"] == "ValueError: boom; second line"
    assert "--debug" in payload["hint"]
    plain = run(HARMONIC + ["--cells", "2"])
    assert plain.exit_code == 2 and len(lines(plain.stderr)) == 1
    assert run(["--debug"] + HARMONIC + ["--cells", "2"]).exception is not None


# -- 2. non-finite numbers in potential files ------------------------------------------------------
@pytest.fixture
def mo_copy(tmp_path):
    from phasetune.potentials.registry import lammps_potentials_dir

    base = lammps_potentials_dir()
    for suffix in (".snapcoeff", ".snapparam"):
        shutil.copy(base / f"Mo_Chen_PRM2017{suffix}", tmp_path / f"mo{suffix}")
    return tmp_path / "mo.snapcoeff"


def _replace_line(path: Path, number: int, text: str) -> None:
    content = path.read_text().splitlines()
    content[number - 1] = text
    path.write_text("\n".join(content) + "\n")


def test_nan_coefficient_is_refused_by_every_verb(mo_copy):
    _replace_line(mo_copy, 10, "nan")  # line 10: coefficient 5 of Mo (line 5 holds β0)
    result = run(HARMONIC + ["--cells", "2", "--potential", mo_copy])
    assert result.exit_code == 2
    (line,) = lines(result.stderr)
    assert f"{mo_copy}:10: coefficient 5 of element Mo is nan" in line and "fix:" in line
    payload = json.loads(run(HARMONIC + ["--cells", "2", "--potential", mo_copy,
                                         "--json"]).stdout)
    assert payload["type"] == "PotentialError"


def test_inf_beta0_and_nan_parameter_are_refused(mo_copy):
    from phasetune.potentials.registry import load_potential

    _replace_line(mo_copy, 5, "inf")
    with pytest.raises(PotentialError, match=r"mo.snapcoeff:5: β0 .* is inf"):
        load_potential(str(mo_copy))
    shutil.copy(mo_copy.with_suffix(".snapparam"), mo_copy.parent / "p.snapparam")
    param = mo_copy.parent / "p.snapparam"
    param.write_text(re.sub(r"rcutfac\s+\S+", "rcutfac nan", param.read_text()))
    from phasetune.potentials.snap_files import SnapParams

    with pytest.raises(PotentialError, match="rcutfac is nan"):
        SnapParams.read(param)


def test_nan_in_an_eam_file_is_refused(tmp_path):
    from phasetune.potentials.registry import lammps_potentials_dir, load_potential

    eam = tmp_path / "Fe_mm.eam.fs"
    shutil.copy(lammps_potentials_dir() / "Fe_mm.eam.fs", eam)
    load_potential(str(eam))  # the shipped numbers are finite
    words = eam.read_text().splitlines()[199].split()
    words[1] = "-nan"
    _replace_line(eam, 200, "  ".join(words))
    with pytest.raises(PotentialError, match=r"Fe_mm.eam.fs:200: '-nan' .*word 2"):
        load_potential(str(eam))


# -- 3. one campaign run per archive ---------------------------------------------------------------
def _tiny_campaign(directory: Path, name: str = "mo", count: int = 2, cells=2) -> Path:
    data = {"phases": [{"name": "bcc", "structure": "bcc", "element": "Mo", "cells": cells,
                        "volumes": [15.9]}],
            "reference": {"potential": "lammps:Mo_Chen_PRM2017"},
            "isosurfaces": {"temperatures": [500, 2000], "count": count},
            "samples": {"per_isosurface": 10, "chunk": 10, "pilot": 10},
            "seed": 3, "archive": f"{name}.h5"}
    path = directory / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


HOLDER = textwrap.dedent("""
    import sys
    from phasetune.campaign.lock import campaign_lock
    with campaign_lock(sys.argv[1]):
        print("locked", flush=True)
        sys.stdin.read()
""")


def test_second_sample_is_refused_while_the_lock_is_held(tmp_path):
    from phasetune.campaign.lock import campaign_lock, lock_path

    path = _tiny_campaign(tmp_path)
    archive = tmp_path / "mo.h5"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(archive)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = run(["sample", path, "--workers", "1"])
        assert result.exit_code == 2
        (line,) = lines(result.stderr)
        assert f"PID {holder.pid} on host {socket.gethostname()}" in line
        assert not archive.exists()  # refused before any work
        payload = json.loads(run(["sample", path, "--json"]).stdout)
        assert payload["type"] == "CampaignLockedError" and str(holder.pid) in payload["error"]
    finally:
        holder.kill()  # SIGKILL: the lock file stays behind, the lock does not
        holder.wait()
    assert lock_path(archive).exists()
    with campaign_lock(archive) as held:  # a dead holder's lock is not stale
        assert json.loads(held.read_text())["pid"] == os.getpid()
    assert not lock_path(archive).exists()


def test_lock_is_released_when_the_run_fails(tmp_path, monkeypatch):
    from phasetune.campaign import runner
    from phasetune.campaign.lock import campaign_lock, lock_path
    from phasetune.campaign.spec import load_campaign

    spec = load_campaign(_tiny_campaign(tmp_path))
    seen = {}

    def failing(*args):
        seen["holder"] = json.loads(lock_path(spec.archive_path).read_text())
        raise RuntimeError("worker pool exploded")

    monkeypatch.setattr(runner, "_run_locked", failing)
    with pytest.raises(RuntimeError):
        runner.run_campaign(spec, workers=1, quiet=True)
    assert seen["holder"]["pid"] == os.getpid()
    assert seen["holder"]["host"] == socket.gethostname()
    with campaign_lock(spec.archive_path):
        pass


def test_campaign_notes_reach_the_terminal(tmp_path):
    result = run(["sample", _tiny_campaign(tmp_path, "notes"), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "note:" in result.stderr and "use count ≥" in result.stderr


# -- 4. hints in the caller's terms ----------------------------------------------------------------
def test_yaml_cell_error_hints_in_yaml_terms(tmp_path):
    from phasetune.campaign.spec import load_campaign

    path = _tiny_campaign(tmp_path, "small", cells=1)
    with pytest.raises(ConfigError) as info:
        load_campaign(path)
    assert "phases[0].cells" in info.value.message
    assert info.value.hint == "set cells: [2, 2, 2] for phase bcc"
    payload = json.loads(run(["sample", path, "--json"]).stdout)
    assert "--" not in payload["hint"] and payload["type"] == "ConfigError"


# -- 5. plots --------------------------------------------------------------------------------------
@pytest.fixture
def figures(monkeypatch):
    """Figures the plot functions close, kept for inspection."""
    import matplotlib.pyplot as plt

    kept = []
    monkeypatch.setattr(plt, "close", lambda fig=None: kept.append(fig))
    return kept


def test_free_energy_plot_marks_unsolved_points(tmp_path, figures):
    from phasetune.plots import plot_free_energies

    t = np.array([300.0, 600.0, 900.0, 1200.0])
    f = -22.4 - 1e-4 * t
    plot_free_energies({"bcc": (t, f, np.full(4, 1e-3), np.array([1, 1, 1, 1], bool)),
                        "a15": (t, f + 0.2, np.full(4, 1e-3), np.array([1, 1, 0, 0], bool))},
                       tmp_path / "f.png")
    (ax,) = figures[0].axes
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["bcc", "a15", "a15: not solved"]
    hollow = ax.lines[-1]
    assert hollow.get_markerfacecolor() == "none" and len(hollow.get_xdata()) == 2
    assert "(K)" in ax.get_xlabel() and "(eV/atom)" in ax.get_ylabel()


def test_trajectory_plot_renders_its_labels_and_integer_iterations(tmp_path, figures):
    from types import SimpleNamespace

    from phasetune.tuning.report import plot_trajectory
    from phasetune.tuning.targets import DeltaFTarget

    steps = [SimpleNamespace(residuals=[1e-2 * 0.1 ** k], distance=2.0 * k) for k in range(3)]
    plot_trajectory(SimpleNamespace(steps=steps), [DeltaFTarget("a15", "bcc", 900.0, 0.15)],
                    tmp_path / "t.png")
    for ax in figures[0].axes:
        ticks = [tick for tick in ax.get_xticks() if 0 <= tick <= 2]
        assert ticks == [0, 1, 2]
        assert "(" in ax.get_ylabel()  # a unit (or "dimensionless")
    distance = figures[0].axes[1].get_ylabel()
    assert distance.startswith("$") and "_M$" in distance  # mathtext, not a literal "_M"


# -- 6. provenance of tuned potentials ------------------------------------------------------------
def _small_snap(directory: Path) -> Path:
    """A 2J = 2 SNAP potential for Mo (β0 and 5 bispectrum coefficients)."""
    (directory / "small.snapparam").write_text("rcutfac 4.6\ntwojmax 2\n")
    coeffs = [-10.0, 0.02, -0.01, 0.03, 0.004, -0.002]
    (directory / "small.snapcoeff").write_text(
        "# a small test potential\n1 6\nMo 0.5 1\n" + "\n".join(map(str, coeffs)) + "\n")
    return directory / "small.snapcoeff"


def test_tuned_snapcoeff_carries_provenance_and_lammps_loads_it(tmp_path):
    from phasetune.engine.calculators import DescriptorEvaluator, ForceEvaluator
    from phasetune.potentials.registry import load_potential
    from phasetune.structures.crystals import crystal
    from phasetune.tuning.provenance import tune_provenance, with_provenance
    from phasetune.tuning.targets import DeltaFTarget

    source = _small_snap(tmp_path)
    pot = load_potential(str(source))
    target = DeltaFTarget("a15", "bcc", 900.0, 0.15)
    prov = tune_provenance(str(source), pot, [tmp_path / "mo.h5"], [target], "gram", 0.01,
                           True)
    tuned = with_provenance(pot.with_theta(pot.theta * 1.01, name="small_tuned"), prov)
    files = tuned.write(tmp_path / "out", "small_tuned")
    text = files["snapcoeff"].read_text()
    sha = hashlib.sha256(source.read_bytes()).hexdigest()
    assert text.startswith("# Modified by phasetune ")
    header = text.split("\n1 6\n")[0]
    for fact in (f"source sha256: {sha}", str(source), str(tmp_path / "mo.h5"),
                 target.describe(), prov["date"], "# a small test potential"):
        assert fact in header
    assert prov["source_sha256"] == sha and prov["targets"] == [target.describe()]

    loaded = load_potential(str(files["snapcoeff"]))
    assert np.array_equal(loaded.theta, tuned.theta) and loaded.beta0() == pot.beta0()
    assert files["snapcoeff"].resolve() in loaded.original.files  # LAMMPS reads this file
    atoms = crystal("bcc", "Mo", volume=15.9, cells=2)
    energy, _ = ForceEvaluator(atoms, loaded).energy_forces()
    d = DescriptorEvaluator(atoms, loaded.spec).descriptors()
    assert np.isfinite(energy)
    assert energy / len(atoms) == pytest.approx(loaded.beta0() + loaded.theta @ d, abs=1e-9)


# -- 7. doctor --env ------------------------------------------------------------------------------
def test_doctor_env_gives_a_working_shell_line():
    result = run(["doctor", "--env"])
    assert result.exit_code == 0, result.output
    (export,) = [ln for ln in lines(result.stdout) if not ln.startswith("#")]
    match = re.fullmatch(r"export LD_LIBRARY_PATH=(\S+)\$\{LD_LIBRARY_PATH:\+:\$LD_LIBRARY_PATH\}",
                         export)
    assert match and (Path(match.group(1)) / "libmpi.so.12").is_file()
    assert "import phasetune" in result.stdout
    payload = json.loads(run(["doctor", "--env", "--json"]).stdout)
    assert payload["shell"] == export and Path(payload["lib_dir"]) == Path(match.group(1))
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    check = ("from lammps import lammps; "
             "lammps(cmdargs=['-screen', 'none', '-log', 'none']).close(); print('ok')")
    shell = f"{export}; {sys.executable} -c \"{check}\""
    out = subprocess.run(["bash", "-c", shell], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


# -- 8. progress ----------------------------------------------------------------------------------
def test_line_progress_reports_every_tenth_with_an_estimate():
    from phasetune.progress import LineProgress, resolve_mode

    now = [0.0]
    stream = io.StringIO()
    with LineProgress(200, "TI lambda", stream=stream, clock=lambda: now[0]) as bar:
        for _ in range(200):
            now[0] += 0.5
            bar.update(1)
    out = stream.getvalue().splitlines()
    assert len(out) == 10
    assert out[0] == ("phasetune: TI lambda: 10% (20/200 step), 10 s elapsed, "
                      "~1 min 30 s left")
    assert out[-1].startswith("phasetune: TI lambda: 100% (200/200 step), 1 min 40 s elapsed")
    assert resolve_mode(None) == "lines"  # pytest's stderr is not a terminal


def test_harmonic_shows_a_hessian_bar_on_a_terminal_unless_quiet(monkeypatch):
    monkeypatch.setattr("phasetune.cli.harmonic.is_terminal", lambda: True)
    args = HARMONIC + ["--cells", "2", "--no-cache"]
    shown = run(args)
    assert shown.exit_code == 0, shown.output
    assert "Hessian" in shown.stderr and "/48 " in shown.stderr  # 3N coordinates
    assert "Hessian" not in run(args + ["--quiet"]).stderr
    assert "Hessian" not in run(args + ["--json"]).stderr


def test_campaign_eta_waits_for_chunks_and_uses_their_rate():
    from types import SimpleNamespace

    from phasetune.campaign.progress import CampaignProgress

    now = [0.0]
    progress = CampaignProgress(enabled=False, clock=lambda: now[0])
    tasks = [SimpleNamespace(phase=p, n_samples=10) for p in ("bcc", "a15") for _ in range(4)]
    progress.start(tasks)
    for t in (5.0, 6.0, 7.0):  # 4 s of start-up, then two workers, 2 CPU s each
        now[0] = t
        assert progress.eta() == {}
        progress.advance("bcc", 10, 2.0)
    # 4 CPU s delivered in the 2 s after the first chunk: throughput 2; remaining 2 + 8 CPU s
    assert progress.eta() == pytest.approx({"bcc": 1.0, "a15": 5.0})


# -- 9. truthful status reasons ------------------------------------------------------------------
def _prediction(status: int, alpha: float, temperature: float, t_alpha: float, clamped=0):
    from phasetune.estimator.prediction import Prediction

    one = np.ones((1, 1))
    return Prediction(temperatures=np.array([temperature]), F_total=one, F_vib=one,
                      sigma_F=one, alpha_star=alpha * one, T_alpha_star=t_alpha * one,
                      entropy=one, solved=one < 0, status=status * one.astype(int),
                      n_clamped=clamped * one.astype(int), conventions={},
                      info={"alpha_grid": [-5.0, -4.9, -3.1, -3.0]})


def test_unsolved_reasons_say_why():
    from phasetune.estimator.prediction import ALPHA_HIGH, CLAMPED, REASONS

    # α* at the top shell while this T's harmonic shell (α* + ln(T/T_α*) = −3.69) is inside
    edge = _prediction(ALPHA_HIGH | CLAMPED, -3.0, 1500.0, 3000.0, clamped=4)
    high, clamped = edge.reasons(0, 0)
    assert "no interior minimum" in high and "-3.693" in high
    assert clamped.startswith("4 (shell, descriptor component) pair(s)")
    # the harmonic shell of this T is itself beyond the grid: the shells end before it
    beyond = _prediction(ALPHA_HIGH, -3.0, 3000.0, 2500.0).reasons(0, 0)[0]
    assert "the sampled shells end before it" in beyond
    for text in [*REASONS.values(), high, clamped, beyond]:
        assert "too far from reference" not in text
