"""The product never imports dev-only code: devtools (moto patches), tests, benches stay out of app and chalicelib."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEV_ONLY = ("devtools", "tests", "bench", "moto")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_no_product_module_imports_dev_only_code() -> None:
    files = [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]
    assert len(files) > 50
    offenders = {str(f.relative_to(ROOT)): sorted(m for m in _imports(f) if m.split(".")[0] in DEV_ONLY)
                 for f in files}
    assert {f: ms for f, ms in offenders.items() if ms} == {}
