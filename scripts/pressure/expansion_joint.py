"""V*(T) at P = 0 to 0.8 T_m with the joint correction, against NPT MD ⟨V⟩ (issue 13 item 7 with
the estimator of issue 14).

Archives: ``scripts/pressure/{mo,w}_joint.yaml`` (BCC, 54 atoms, raw descriptors kept); truth:
``pressure-output/truth/{mo,w}.json`` (``scripts/pressure/ground_truth.py``).  The rows are those
of ``report.py`` (:func:`report.expansion_rows`) at P = 0.  Writes
``docs/pressure/expansion_joint.json`` and prints a markdown table.

    python scripts/pressure/expansion_joint.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import expansion_rows  # noqa: E402 - the sibling script's rows

from phasetune.jsonutil import to_jsonable  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MELTING = {"mo": 2900.0, "w": 3700.0}
"""T_m of the potentials, K (docs/validation.md)."""


def main() -> None:
    rows = []
    print("| system | T (K) | T/T_m | V*_DDOS (Å³/atom) | ⟨V⟩_MD (Å³/atom) | ΔV (%) | "
          "(ΔV)/σ | α_V (10⁻⁶/K) | volumes used | solved |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, t_melt in MELTING.items():
        archive = ROOT / "pressure-output" / f"{name}_joint.h5"
        if not archive.exists() or Path(f"{archive}.lock").exists():
            print(f"| {name} | (no finished archive: phasetune sample "
                  f"scripts/pressure/{name}_joint.yaml) |")
            continue
        truth = json.loads((ROOT / "pressure-output" / "truth" / f"{name}.json").read_text())
        for row in expansion_rows(name, archive, truth):
            if row["P_GPa"] != 0.0:
                continue
            z = (row["V_DDOS"] - row["V_MD"]) / np.hypot(row["sigma_V_DDOS"], row["sigma_V_MD"])
            row.update(T_over_Tm=row["T"] / t_melt, z=z)
            rows.append(row)
            print(f"| {name} | {row['T']:.0f} | {row['T_over_Tm']:.2f} | {row['V_DDOS']:.4f} ± "
                  f"{row['sigma_V_DDOS']:.4f} | {row['V_MD']:.4f} ± {row['sigma_V_MD']:.4f} | "
                  f"{row['dV_percent']:+.3f} | {z:+.1f} | {1e6 * row['alpha_V_DDOS']:.1f} | "
                  f"{row['volumes_used']} | {'yes' if row['solved'] else 'no'} |")
    out = ROOT / "docs" / "pressure" / "expansion_joint.json"
    out.write_text(json.dumps(to_jsonable({"rows": rows, "units": {
        "V": "Å³/atom", "T": "K", "alpha_V_DDOS": "1/K", "B_T_GPa": "GPa",
        "C_P_kB": "k_B per atom"}}), indent=1))


if __name__ == "__main__":
    main()
