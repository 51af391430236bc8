"""Precompiled bytecode in the Lambda zips: Lambda's /var/task and /opt are read-only, so a module shipped without
its .pyc is compiled again on every cold start.

Each `x.py` of a zip gets `__pycache__/x.cpython-313.pyc`, compiled by this interpreter (it must be Lambda's
version, or the magic number would make Python ignore the file) as an unchecked-hash pyc: the importer uses it
without comparing source timestamps, which a zip extraction does not promise to keep.
"""

from __future__ import annotations

import importlib.util
import sys
import zipfile
from pathlib import Path

TAG = sys.implementation.cache_tag  # cpython-313


def _pyc(source: bytes, name: str) -> bytes | None:
    from importlib._bootstrap_external import _code_to_hash_pyc  # type: ignore[attr-defined]

    try:
        code = compile(source, name, "exec", dont_inherit=True, optimize=0)
    except SyntaxError:  # a vendored file for another Python (never imported): ship its source alone
        return None
    data: bytes = _code_to_hash_pyc(code, importlib.util.source_hash(source), checked=False)
    return data


def precompile(archive: Path, runtime: str) -> int:
    """Add a .pyc next to every module of `archive` (rewritten in place); returns how many were added."""
    if f"cpython-{runtime.removeprefix('python').replace('.', '')}" != TAG:
        return 0
    staged = archive.with_suffix(".tmp")
    added = 0
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(staged, "w", zipfile.ZIP_DEFLATED) as target:
        names = set(source.namelist())
        for info in source.infolist():
            data = source.read(info)
            target.writestr(info, data)
            path = Path(info.filename)
            if path.suffix != ".py" or "__pycache__" in path.parts:
                continue
            cached = str(path.parent / "__pycache__" / f"{path.stem}.{TAG}.pyc")
            if cached in names or (pyc := _pyc(data, info.filename)) is None:
                continue
            entry = zipfile.ZipInfo(cached, date_time=info.date_time)
            entry.external_attr = info.external_attr
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, pyc)
            added += 1
    staged.replace(archive)
    return added
