"""D-DOS with and without the joint correction against the stored TI of the validation report.

The TI numbers are those of ``docs/validation/<system>.json`` (λ-TI + θ-path on the campaign's
own cells, lattices and Hessians) plus any extra TI results given with ``--extra-ti`` (JSON rows
with phase, T, model, F_TI, sigma_TI, as printed by ``validate``).  The archive must be the same
campaign (same YAML and seed) sampled with raw descriptors, so that the joint correction is on.

    python scripts/validation/joint_report.py mo validation-output/mo.h5 \
        --potential lammps:Mo_Chen_PRM2017 [--extra-ti more.json] [--out docs/validation]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from phasetune.jsonutil import to_jsonable
from phasetune.potentials.registry import load_potential
from phasetune.validation.compare import compare, ddos_estimators

HERE = Path(__file__).resolve().parents[2]


def stored_ti(path: Path, extra: list[Path]) -> tuple[dict, list[str], np.ndarray]:
    """(phase, T) → {"F": [...], "sigma": [...]} per model label, the labels and the θ."""
    report = json.loads(path.read_text())
    labels = list(report["labels"])
    rows = list(report["comparison"]["rows"])
    for p in extra:
        rows += json.loads(p.read_text())
    ti: dict[tuple[str, float], dict] = {}
    for r in rows:
        entry = ti.setdefault((r["phase"], float(r["T"])),
                              {"F": [np.nan] * len(labels), "sigma": [np.nan] * len(labels)})
        k = labels.index(r["model"])
        entry["F"][k], entry["sigma"][k] = r["F_TI"], r["sigma_TI"]
    return ti, labels, np.asarray(report["thetas"], dtype=float)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("system")
    ap.add_argument("archive")
    ap.add_argument("--potential", required=True)
    ap.add_argument("--extra-ti", type=Path, nargs="*", default=[])
    ap.add_argument("--out", type=Path, default=HERE / "docs" / "validation")
    args = ap.parse_args()
    pot = load_potential(args.potential)
    ti, labels, thetas = stored_ti(HERE / "docs" / "validation" / f"{args.system}.json",
                                   args.extra_ti)
    estimators = ddos_estimators(args.archive, pot)
    if any(e.joint_reference is None for e in estimators.values()):
        raise SystemExit("the archive has no raw descriptors or reference θ: re-sample it")
    joint = compare(estimators, thetas, pot.beta0(), ti, labels)
    for e in estimators.values():
        e.set_joint_reference(None)
    product = compare(estimators, thetas, pot.beta0(), ti, labels)
    lines = [f"# Joint correction against TI: {args.system}", "",
             f"Archive `{Path(args.archive).name}`, potential {pot.name}, F^(3N−3) per atom; "
             "d = D-DOS − TI in meV/atom, σ the combined 1σ (D-DOS ⊕ TI); * not solved.", "",
             "| phase | T (K) | model | d, product of marginals | d, joint correction | σ | "
             "covered (90 %) |", "|---|---|---|---|---|---|---|"]

    def cell(row):
        return f"{1e3 * row['deviation']:+.2f}{'' if row['solved'] else '*'}"

    for kind, rows_j, rows_p in (("F", joint.rows, product.rows),
                                 ("ΔF", joint.differences, product.differences)):
        for rj, rp in zip(rows_j, rows_p, strict=True):
            lines.append(f"| {rj['phase']} | {rj['T']:.0f} | {rj['model']} | {cell(rp)} | "
                         f"{cell(rj)} | {1e3 * rj['sigma']:.2f} | "
                         f"{'yes' if rj['covered'] else 'no'} |")
        del kind
    lines += ["", "Summary (joint): " + json.dumps(to_jsonable(joint.summary)),
              "", "Summary (product): " + json.dumps(to_jsonable(product.summary))]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"joint_{args.system}.md").write_text("\n".join(lines) + "\n")
    (args.out / f"joint_{args.system}.json").write_text(json.dumps(to_jsonable(
        {"joint": joint.to_dict(), "product": product.to_dict()}), indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
