"""The dependency layer as Lambda gets it: runtime packages only, botocore's data for the services the code calls.

botocore ships the models of every AWS service (about 460 directories, 29 MB unzipped); a client's creation lists
them all to check the service's name (hundreds of listdir and stat calls on every cold start). The functions call
only the services of `Service` (chalicelib/wiring/shared.py; the authorizer's DynamoDB among them), so the layer
keeps those and botocore's shared files. A client of any other service fails at once with UnknownServiceError;
tests/deploy/test_layer.py creates a client of each kept service from the built layer.
"""

from __future__ import annotations

import zipfile
from functools import cache
from pathlib import Path
from typing import get_args

from infra.stack.functions import RUNTIME

SITE = f"python/lib/{RUNTIME}/site-packages/"
DATA = f"{SITE}botocore/data/"
# Development tools that must never reach Lambda (chalice's CLI and its dependencies, the build tools).
NOT_RUNTIME = ("chalice", "pip", "setuptools", "wheel", "click", "yaml", "inquirer", "blessed", "jinxed", "readchar")


@cache
def services() -> frozenset[str]:
    """The services the functions call (imported when used: the wiring reads the environment's table names)."""
    from chalicelib.wiring.shared import Service

    return frozenset(get_args(Service))


def _unused_model(name: str) -> bool:
    """A file of a botocore service directory the functions never call."""
    if not name.startswith(DATA):
        return False
    parts = name.removeprefix(DATA).split("/")
    return len(parts) > 1 and parts[0] not in services()


def slim(layer: Path) -> int:
    """Drop the models of services no function calls (rewritten in place); returns the unzipped bytes dropped."""
    staged = layer.with_suffix(".tmp")
    dropped = 0
    with zipfile.ZipFile(layer) as source, zipfile.ZipFile(staged, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if _unused_model(info.filename):
                dropped += info.file_size
            else:
                target.writestr(info, source.read(info))
    staged.replace(layer)
    return dropped


def check_layer(layer: Path) -> list[str]:
    """Every compiled module built for RUNTIME under its path; no development tool; botocore's data for exactly
    the services the functions call."""
    tag = "cpython-" + RUNTIME.removeprefix("python").replace(".", "")
    with zipfile.ZipFile(layer) as archive:
        names = archive.namelist()
    problems = [f"{layer.name}: {n} is not for {RUNTIME}" for n in names
                if ".cpython-" in n and n.endswith(".so") and tag not in n]
    tops = {n.removeprefix(SITE).split("/")[0] for n in names if n.startswith(SITE)}
    problems += [f"{layer.name}: ships {t}, a development tool" for t in sorted(tops) if t in NOT_RUNTIME]
    if "pydantic_core" not in tops:
        problems.append(f"{layer.name}: no pydantic_core under {SITE.rstrip('/')}")
    if "botocore" in tops:
        models = {n.removeprefix(DATA).split("/")[0] for n in names
                  if n.startswith(DATA) and n.endswith("service-2.json.gz")}
        problems += [f"{layer.name}: no botocore model for {s}, which the functions call"
                     for s in sorted(services() - models)]
        problems += [f"{layer.name}: ships botocore's model of {s}, which no function calls"
                     for s in sorted(models - services())]
    return problems
