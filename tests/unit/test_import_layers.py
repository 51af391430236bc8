"""chalicelib's imports form layers without cycles: entry points → the composition root → its factories → packages.

The walk reads every module's imports from its AST, top-level and function-local alike (a local import hides a
cycle, it does not remove it), and skips `if TYPE_CHECKING:` blocks (annotations only, never executed). Nodes:
each package of the domain (`dispatch`, `coupons`, ...), each module of `chalicelib/wiring/` on its own (the root
is `wiring`), and each entry module (blueprints, Lambda handlers, the admin CLI) on its own.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENTRY_NAMES = ("api", "handlers", "admin")  # modules Chalice or an operator calls: only they may use the root


def _module_name(base: Path, path: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(tree: ast.Module, modules: set[str], package: str) -> list[tuple[str, bool]]:
    """(imported module, function-local?) for every import of a chalicelib module in `tree`."""
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, local: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other, local)
                continue
            inner = local or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import):
                found.extend((alias.name, inner) for alias in child.names if alias.name.split(".")[0] == package)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0 \
                    and child.module.split(".")[0] == package:
                for alias in child.names:  # `from pkg import module` names the module, not the package
                    sub = f"{child.module}.{alias.name}"
                    found.append((sub if sub in modules else child.module, inner))
            visit(child, inner)

    visit(tree, False)
    return found


def is_entry(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return last in ENTRY_NAMES or last.endswith("_api")


def node_of(module: str) -> str:
    """The graph node a module belongs to."""
    parts = module.split(".")
    if is_entry(module):
        return f"entry:{module}"
    if len(parts) >= 2 and parts[1] == "wiring":
        return "wiring" if len(parts) == 2 else f"wiring.{parts[2]}"
    return parts[1] if len(parts) > 1 else parts[0]


def graph(base: Path, package: str) -> tuple[dict[str, set[str]], list[str]]:
    """Node graph of `base/package` and the function-local imports found (module → imported)."""
    paths = sorted((base / package).rglob("*.py"))
    modules = {_module_name(base, p) for p in paths}
    edges: dict[str, set[str]] = {}
    local: list[str] = []
    for path in paths:
        module = _module_name(base, path)
        for target, inner in imports_of(ast.parse(path.read_text()), modules, package):
            if inner:
                local.append(f"{module} → {target}")
            a, b = node_of(module), node_of(target)
            if a != b:
                edges.setdefault(a, set()).add(b)
    return edges, local


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path (first node repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def layer_breaches(edges: dict[str, set[str]]) -> list[str]:
    """Imports against the layers: only entry points use the root or other entry points; the domain uses no wiring."""
    breaches = []
    for node, targets in edges.items():
        for target in targets:
            if target.startswith("entry:") and not node.startswith("entry:"):
                breaches.append(f"{node} → {target} (entry points are imported by app.py and each other only)")
            elif target == "wiring" and not node.startswith("entry:"):
                breaches.append(f"{node} → the root (only entry points use it)")
            elif target.startswith("wiring.") and not node.startswith("wiring"):
                breaches.append(f"{node} → {target} (a factory module is the root's)")
    return sorted(breaches)


def test_chalicelib_has_no_import_cycle_between_packages_nor_between_the_root_and_its_factories():
    edges, _ = graph(ROOT, "chalicelib")
    assert find_cycle(edges) is None, f"import cycle: {' → '.join(find_cycle(edges) or [])}"
    assert "wiring" in edges and {"wiring.dispatch", "wiring.shared"} <= edges["wiring"]  # the walk sees the root


def test_chalicelib_imports_follow_the_layers_when_walked_from_the_entry_points():
    edges, _ = graph(ROOT, "chalicelib")
    assert layer_breaches(edges) == []


def test_chalicelib_has_no_function_local_import_when_a_cycle_could_hide_behind_one():
    _, local = graph(ROOT, "chalicelib")
    assert local == []


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A small package with a cycle that only a function-local import closes, and one that TYPE_CHECKING hides."""
    pkg = tmp_path / "lib"
    for name, text in {
        "__init__.py": "",
        "a/__init__.py": "",
        "a/model.py": "from lib.b import store\n",
        "b/__init__.py": "",
        "b/store.py": "def late():\n    from lib.a.model import X\n",
        "c/__init__.py": "",
        "c/x.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from lib.a import model\n",
        "wiring/__init__.py": "from lib.wiring import parts\n",
        "wiring/parts.py": "from lib import wiring\n",
    }.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    return tmp_path


def test_the_walk_finds_a_cycle_when_only_a_function_local_import_closes_it(tree: Path):
    edges, local = graph(tree, "lib")
    assert local == ["lib.b.store → lib.a.model"]
    cycle = find_cycle({k: v for k, v in edges.items() if not k.startswith("wiring")})
    assert cycle is not None and set(cycle) == {"a", "b"}
    assert "c" not in edges  # an import under `if TYPE_CHECKING:` is not an edge


def test_the_walk_finds_a_cycle_and_a_breach_when_a_factory_imports_the_root(tree: Path):
    edges, _ = graph(tree, "lib")
    assert edges["wiring"] == {"wiring.parts"} and edges["wiring.parts"] == {"wiring"}
    assert "wiring.parts → the root (only entry points use it)" in layer_breaches(edges)
