"""The layering contract of the package, checked from the source (every import, lazy ones too).

Lowest first; a module may import from its own layer or any lower one, never from a higher one:

    _version, constants, errors, cores, jsonutil, atomic, plots, progress
    < conventions < model
    < engine, potentials, structures < harmonic
    < campaign, archive, scoring < estimator, ti, testsystems < pressure
    < phases, training, tuning, validation < cli, __main__

Also: no private name (``_x``) imported from another package, and no import cycle between
packages or between modules.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "phasetune"

LAYERS = [
    {"_version", "constants", "errors", "cores", "jsonutil", "atomic", "plots", "progress",
     "yamlconfig"},
    {"conventions"},
    {"model"},
    {"engine", "potentials", "structures", "nonlinear"},
    {"harmonic"},
    {"campaign", "archive", "scoring"},
    {"estimator", "ti", "testsystems"},
    {"pressure", "reweighting", "tangent"},
    {"phases", "training", "tuning", "validation"},
    {"cli", "__main__"},
]
LAYER = {name: k for k, names in enumerate(LAYERS) for name in names}


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(["phasetune", *parts])


def _imports(path: Path, module: str) -> list[tuple[str, list[str]]]:
    """(imported module, names) for every import statement of a file, relative ones resolved."""
    is_package = path.name == "__init__.py"
    base = module.split(".") if is_package else module.split(".")[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(alias.name, []) for alias in node.names if alias.name.startswith("phasetune")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - node.level + 1]
                target = ".".join(anchor + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("phasetune"):
                out.append((target, [alias.name for alias in node.names]))
    return out


def _unit(module: str) -> str | None:
    """The layered unit of a module: its top-level package or module under phasetune."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def violations(root: Path = PACKAGE) -> list[str]:
    """Every breach of the contract in the package at ``root``."""
    problems = []
    units: dict[str, set[str]] = {}
    modules: dict[str, set[str]] = {}
    files = sorted(root.rglob("*.py"))
    known = {_module_name(p, root) for p in files}
    for path in files:
        module = _module_name(path, root)
        unit = _unit(module)
        for target, names in _imports(path, module):
            submodules = {f"{target}.{n}" for n in names} & known
            modules.setdefault(module, set()).update(submodules)  # `from pkg import module`
            if target in known and module != target and len(submodules) < len(names or [0]):
                modules[module].add(target)
            other = _unit(target)
            if unit is None or other is None or other == unit:
                continue
            if unit not in LAYER or other not in LAYER:
                problems.append(f"{module}: {unit if unit not in LAYER else other} has no layer")
                continue
            units.setdefault(unit, set()).add(other)
            if LAYER[other] > LAYER[unit]:
                problems.append(f"{module} imports {target}: upward ({unit} is below {other})")
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private:
                problems.append(f"{module} imports private {', '.join(private)} from {target}")
    problems += [f"import cycle between packages: {' ↔ '.join(c)}" for c in _cycles(units)]
    problems += [f"import cycle between modules: {' ↔ '.join(c)}" for c in _cycles(modules)]
    return problems


def test_the_package_keeps_its_layers():
    assert violations() == []


def test_every_unit_has_a_layer():
    units = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()}
    assert units <= set(LAYER), sorted(units - set(LAYER))


def test_an_upward_import_a_private_import_and_a_cycle_are_caught(tmp_path):
    copy = tmp_path / "phasetune"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    reference = copy / "model" / "reference.py"
    reference.write_text(reference.read_text()
                         + "\nfrom ..harmonic.reference import build_reference  # noqa\n")
    tasks = copy / "campaign" / "tasks.py"
    tasks.write_text(tasks.read_text() + "\nfrom ..archive.hdf5 import _commit  # noqa\n")
    hdf5 = copy / "archive" / "hdf5.py"
    hdf5.write_text(hdf5.read_text() + "\nfrom ..campaign.tasks import stable_id  # noqa\n")
    found = violations(copy)
    assert any("phasetune.model.reference imports phasetune.harmonic.reference: upward" in p
               for p in found)
    assert any("private _commit from phasetune.archive.hdf5" in p for p in found)
    assert any("cycle between packages: archive ↔ campaign" in p for p in found)
    assert any("cycle between modules" in p and "phasetune.model.reference" in p for p in found)
