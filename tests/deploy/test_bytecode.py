"""The zips' precompiled bytecode (infra/bytecode.py)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from infra.bytecode import TAG, precompile

RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"


def _zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def test_precompile_ships_a_pyc_per_module_that_python_uses_without_checking_the_source(tmp_path):
    bundle = _zip(tmp_path / "deployment.zip", {"app.py": "VALUE = 'compiled'\n", "pkg/__init__.py": "",
                                                 "pkg/mod.py": "X = 1\n", "data.json": "{}"})
    assert precompile(bundle, RUNTIME) == 3
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        archive.extractall(tmp_path / "task")
    assert {f"__pycache__/app.{TAG}.pyc", f"pkg/__pycache__/__init__.{TAG}.pyc",
            f"pkg/__pycache__/mod.{TAG}.pyc"} <= names
    assert not any(n.startswith("__pycache__/data") for n in names)
    # Lambda extracts zips with any timestamps: the pyc is used as shipped, whatever the source's mtime says.
    (tmp_path / "task" / "app.py").write_text("VALUE = 'from source'\n")
    done = subprocess.run([sys.executable, "-B", "-c", "import app; print(app.VALUE, app.__cached__)"],
                          cwd=tmp_path / "task", capture_output=True, text=True, check=True)
    assert done.stdout.split()[0] == "compiled", done.stdout


def test_precompile_leaves_a_module_for_another_python_as_source_and_is_idempotent(tmp_path):
    bundle = _zip(tmp_path / "layer.zip", {"old.py": "print 'python 2'\n", "new.py": "Y = 2\n"})
    assert precompile(bundle, RUNTIME) == 1
    assert precompile(bundle, RUNTIME) == 0  # the pyc is there already: nothing added twice
    with zipfile.ZipFile(bundle) as archive:
        names = archive.namelist()
    assert sorted(names) == sorted(["old.py", "new.py", f"__pycache__/new.{TAG}.pyc"])


def test_precompile_adds_nothing_when_this_python_is_not_the_lambda_runtime(tmp_path):
    bundle = _zip(tmp_path / "deployment.zip", {"app.py": "X = 1\n"})
    before = bundle.read_bytes()
    assert precompile(bundle, "python2.7") == 0  # a pyc of another version would be ignored by Lambda's Python
    assert bundle.read_bytes() == before
