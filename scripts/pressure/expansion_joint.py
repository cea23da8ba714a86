"""V*(T) at P = 0 to 0.8 T_m with the joint correction, against NPT MD ⟨V⟩ (issue 13 item 7 with
the estimator of issue 14).

Archives: ``scripts/pressure/{mo,w}_joint.yaml`` (BCC, 54 atoms, raw descriptors kept); truth:
``pressure-output/truth/{mo,w}.json`` (``scripts/pressure/ground_truth.py``).  Writes
``docs/pressure/expansion_joint.json`` and prints a markdown table.

    python scripts/pressure/expansion_joint.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from phasetune.conventions import Conventions
from phasetune.jsonutil import to_jsonable
from phasetune.potentials.registry import load_potential
from phasetune.pressure.loading import load_pressure_phases

ROOT = Path(__file__).resolve().parents[2]
SYSTEMS = {"mo": ("lammps:Mo_Chen_PRM2017", 2900.0), "w": ("lammps:W_2940_2017_2", 3700.0)}


def main() -> None:
    rows = []
    print("| system | T (K) | T/T_m | V*_DDOS (Å³/atom) | ⟨V⟩_MD (Å³/atom) | ΔV (%) | "
          "(ΔV)/σ | α_V (10⁻⁶/K) | volumes used | solved |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, (potential, t_melt) in SYSTEMS.items():
        archive = ROOT / "pressure-output" / f"{name}_joint.h5"
        if not archive.exists() or Path(f"{archive}.lock").exists():
            print(f"| {name} | (no finished archive: phasetune sample "
                  f"scripts/pressure/{name}_joint.yaml) |")
            continue
        truth = json.loads((ROOT / "pressure-output" / "truth" / f"{name}.json").read_text())
        md = {v["T"]: v for v in truth["volumes"] if v["P_GPa"] == 0.0}
        pot = load_potential(potential)
        phase = load_pressure_phases([archive], conventions=Conventions("3N-3"))["bcc"]
        temps = np.array(sorted(md))
        g = phase.predict(pot.theta, temps, [0.0], beta0=pot.beta0())
        for k, t in enumerate(temps):
            v, s = float(g.volume[0, k, 0]), float(g.sigma_volume[0, k, 0])
            ref, s_ref = md[t]["V"], md[t]["sigma_V"]
            dv = 100 * (v - ref) / ref
            z = (v - ref) / np.hypot(s, s_ref)
            row = {"system": name, "T": float(t), "T_over_Tm": t / t_melt, "V_DDOS": v,
                   "sigma_V_DDOS": s, "V_MD": ref, "sigma_V_MD": s_ref, "dV_percent": dv,
                   "z": z, "expansion": float(g.expansion[0, k, 0]),
                   "volumes_used": int(g.volumes_used[k, 0]), "solved": bool(g.solved[0, k, 0]),
                   "reasons": g.reasons(0, k, 0)}
            rows.append(row)
            print(f"| {name} | {t:.0f} | {t / t_melt:.2f} | {v:.4f} ± {s:.4f} | {ref:.4f} ± "
                  f"{s_ref:.4f} | {dv:+.3f} | {z:+.1f} | {1e6 * row['expansion']:.1f} | "
                  f"{row['volumes_used']} | {'yes' if row['solved'] else 'no'} |")
    out = ROOT / "docs" / "pressure" / "expansion_joint.json"
    out.write_text(json.dumps(to_jsonable({"rows": rows, "units": {
        "V": "Å³/atom", "T": "K", "expansion": "1/K"}}), indent=1))


if __name__ == "__main__":
    main()
