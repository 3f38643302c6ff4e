"""The package's import rules: each module imports only from its own layer or below.

An AST walk over every module of ``tfrec_inc`` (module-level and function-local imports
alike) checks that no module imports from a layer above its own and that no two
packages import each other. The layers are those of ``docs/architecture.md``.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "tfrec_inc"

# Bottom to top. A module belongs to the first entry naming its top-level package/module.
LAYERS = [
    {"errors", "atomic", "config"},
    {"runtime"},
    {"data"},
    {"text"},
    {"prepare"},
    {"models"},
    {"results"},
    {"evaluation"},
    {"incremental", "transfer", "compression"},  # studies: may use each other, no cycles
    {"serving", "reporting", "studies"},
    {"experiment", "tune", "docs", "cli", "__init__"},
]


def _unit(module: str) -> str:
    """``tfrec_inc.models.factory`` -> ``models``; ``tfrec_inc`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(unit: str) -> int:
    for i, names in enumerate(LAYERS):
        if unit in names:
            return i
    raise AssertionError(f"tfrec_inc.{unit} is in no layer: add it to LAYERS (and docs/architecture.md)")


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every ``tfrec_inc...`` module a file imports (``from tfrec_inc import x`` -> ``tfrec_inc.x``)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("tfrec_inc")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "tfrec_inc":
                out |= {f"tfrec_inc.{a.name}" for a in node.names}
            elif node.module.startswith("tfrec_inc."):
                out.add(node.module)
    return out


def _edges() -> list[tuple[str, str, str]]:
    """``(importing module, its unit, imported unit)`` for every cross-unit import."""
    edges = []
    for path in sorted(ROOT.rglob("*.py")):
        name = _module_name(path)
        unit = _unit(name)
        for imported in _imports(path):
            target = _unit(imported)
            if target != unit and imported != "tfrec_inc":
                edges.append((name, unit, target))
    return edges


def test_no_module_imports_from_a_layer_above_it():
    upward = [f"{name} ({unit}) imports {target}" for name, unit, target in _edges()
              if _layer(target) > _layer(unit)]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_no_two_packages_import_each_other():
    pairs = {(unit, target) for _, unit, target in _edges()}
    cycles = sorted({tuple(sorted(p)) for p in pairs if (p[1], p[0]) in pairs})
    assert not cycles, f"package cycles: {cycles}"


def test_the_walker_sees_upward_and_cyclic_imports(tmp_path, monkeypatch):
    """The checks above would fail on the pre-restructuring shape (data -> models)."""
    pkg = tmp_path / "tfrec_inc"
    (pkg / "data").mkdir(parents=True)
    (pkg / "models").mkdir()
    (pkg / "data" / "catalog.py").write_text("from tfrec_inc.models.vocab import Vocabulary\n")
    (pkg / "models" / "vocab.py").write_text("def f():\n    from tfrec_inc.data import catalog\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", pkg)
    with pytest.raises(AssertionError, match="data.catalog \\(data\\) imports models"):
        test_no_module_imports_from_a_layer_above_it()
    with pytest.raises(AssertionError, match="package cycles"):
        test_no_two_packages_import_each_other()


def test_interfaces_are_declared_not_probed():
    """No ``hasattr`` interface checks: contracts are ABCs and Protocols."""
    found = [f"{p.relative_to(ROOT.parent)}:{n.lineno}" for p in sorted(ROOT.rglob("*.py"))
             for n in ast.walk(ast.parse(p.read_text()))
             if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "hasattr"]
    assert not found, f"hasattr calls: {found}"


def test_size_limits():
    """No function over 80 lines; no module over 450 (generated tables excepted, marked)."""
    long_modules, long_functions = [], []
    for path in sorted(ROOT.rglob("*.py")):
        text = path.read_text()
        if len(text.splitlines()) > 450 and "GENERATED" not in text[:2000]:
            long_modules.append(f"{path.relative_to(ROOT.parent)}: {len(text.splitlines())}")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > 80:
                    where = f"{path.relative_to(ROOT.parent)}:{node.lineno}"
                    long_functions.append(f"{where} {node.name}: {length}")
    assert not long_modules and not long_functions, (long_modules, long_functions)
