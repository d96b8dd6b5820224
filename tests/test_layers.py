"""The import structure is the data flow: specs -> engine stages -> results -> views.

Every ``import`` in the package (module level, inside functions, under TYPE_CHECKING) is
read from the source, so a lazy import cannot hide a cycle; and a fresh interpreter checks
what ``import roofline`` and the CLI's argument parsing actually load.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import roofline

PACKAGE = Path(roofline.__file__).parent

#: Engine stages in data-flow order; a stage imports only from stages before it (serving
#: and training are siblings: neither imports the other).
STAGES = ("scenario", "operators", "network", "timing", ("serving", "training"), "planning")

#: What a part of the package must never import (prefix match on dotted names).
FORBIDDEN = {
    "roofline.errors": ("roofline.",),
    "roofline.formatting": ("roofline.",),
    "roofline.specs": ("roofline.engine", "roofline.results", "roofline.views",
                       "roofline.dashboard", "roofline.cli", "roofline.validation"),
    "roofline.results": ("roofline.engine", "roofline.views", "roofline.dashboard",
                         "roofline.cli", "roofline.validation"),
    "roofline.engine": ("roofline.views", "roofline.dashboard", "roofline.cli",
                        "roofline.validation"),
    "roofline.views": ("roofline.dashboard", "roofline.cli"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:`` (annotations, not run)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            out.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return out


def _imports(path: Path, *, typing: bool = True) -> set[str]:
    """Dotted names this file imports (``from a.b import c`` gives ``a.b.c`` when ``c``
    is a module of the package, else ``a.b``); ``typing=False`` leaves out the imports
    under ``if TYPE_CHECKING:``."""
    tree = ast.parse(path.read_text(), str(path))
    skip = set() if typing else _type_only(tree)
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(
        ".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.add(sub if sub in MODULES else base)
    return {n for n in out if n == "roofline" or n.startswith("roofline.")}


FILES = sorted(PACKAGE.rglob("*.py"))
MODULES = {_module_name(p) for p in FILES}
GRAPH = {_module_name(p): _imports(p) for p in FILES}
RUNTIME = {_module_name(p): _imports(p, typing=False) for p in FILES}


def _stage(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) < 3 or parts[:2] != ["roofline", "engine"]:
        return None
    for i, s in enumerate(STAGES):
        if parts[2] in ((s,) if isinstance(s, str) else s):
            return i
    raise AssertionError(f"{module}: engine subpackage {parts[2]!r} is not a stage in STAGES")


def test_graph_is_read() -> None:
    assert "roofline.engine.serving.inference" in GRAPH
    assert "roofline.engine.timing.forward" in GRAPH["roofline.engine.serving.inference"]


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_no_forbidden_imports(part: str) -> None:
    bad = [f"{m} imports {i}" for m, deps in GRAPH.items()
           if m == part or m.startswith(part + ".")
           for i in deps if i.startswith(FORBIDDEN[part]) and not i.startswith(part)]
    assert not bad, "\n".join(bad)


def test_engine_stages_import_only_earlier_stages() -> None:
    bad = []
    for m, deps in GRAPH.items():
        here = _stage(m)
        if here is None:
            continue
        for d in deps:
            there = _stage(d)
            if there is not None and (there > here or (there == here and m.split(".")[2] !=
                                                        d.split(".")[2])):
                bad.append(f"{m} (stage {here}) imports {d} (stage {there})")
    assert not bad, "\n".join(bad)


def test_no_import_cycles() -> None:
    """No cycle among the package's modules at run time (a package ``__init__`` is not an
    edge back from its own submodules: importing ``a.b`` runs ``a`` first anyway)."""
    edges = {m: {d for d in deps if d in RUNTIME and not m.startswith(d + ".")}
             for m, deps in RUNTIME.items() if m != "roofline"}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(edges.get(m, ())):
            if state.get(d) == 1:
                cycle = [*stack[stack.index(d):], d]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)


def _fresh(code: str) -> set[str]:
    code += "\nimport sys\nprint(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return set(out.stdout.split())


def test_import_roofline_is_light() -> None:
    """``import roofline`` loads no engine, pandas or plotting; public names load on use."""
    loaded = _fresh("import roofline")
    assert not {"pandas", "plotly", "dash", "roofline.engine"} & loaded


def test_a_single_answer_needs_no_pandas() -> None:
    """``infer`` and ``train`` answer one scenario from the engine's own arrays: pandas
    loads only when a table (``.frame``) is asked for."""
    loaded = _fresh("import roofline\n"
                    "r = roofline.infer('llama-3.1-70b', 'h100')\n"
                    "assert r['tpot_s'] > 0 and r.to_dict()['fits'] in (True, False)\n"
                    "t = roofline.train('llama-3.1-70b', 'h100', count=64, tp=8, pp=2, "
                    "seq_len=8192, global_batch=512)\n"
                    "assert t['step_time_s'] > 0")
    assert "roofline.engine.training.run" in loaded and "pandas" not in loaded
    assert "pandas" in _fresh("import roofline\nroofline.infer('llama-3-8b', 'h100').frame")


def test_every_public_name_loads_without_views() -> None:
    loaded = _fresh("import roofline\nfor n in roofline.__all__: getattr(roofline, n)")
    assert "roofline.engine.serving.inference" in loaded
    assert not {m for m in loaded if m.split(".")[0] in ("plotly", "dash")
                or m.startswith(("roofline.views", "roofline.dashboard"))}


def test_cli_parses_before_loading_the_engine() -> None:
    loaded = _fresh("from roofline.cli import build_parser\n"
                    "build_parser().parse_args(['fit', 'gpt-4', 'h100', '--count', '512'])")
    assert "roofline.cli" in loaded
    assert not {"pandas", "numpy", "pydantic", "roofline.engine", "roofline.specs"} & loaded


def test_public_names_resolve() -> None:
    assert set(roofline.__all__) == {*roofline._EXPORTS, "__version__"}
    for name in roofline.__all__:
        assert getattr(roofline, name) is not None
    assert roofline.infer.__module__ == "roofline.engine.serving.inference"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        roofline.nope  # noqa: B018
