"""The packaged build, made once per set of inputs (infra.package --if-stale) for every test here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"


@pytest.fixture(scope="session")
def built() -> Path:
    done = subprocess.run([sys.executable, "-m", "infra.package", "--if-stale"], cwd=ROOT, capture_output=True,
                          text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "no findings" in done.stdout or "up to date" in done.stdout, done.stdout[-2000:]
    return BUILD


@pytest.fixture(scope="session")
def sam(built: Path) -> dict[str, Any]:
    """The SAM template `make deploy` ships (build/sam.json)."""
    template: dict[str, Any] = json.loads((built / "sam.json").read_text())
    return template


@pytest.fixture(scope="session")
def cfn(built: Path) -> dict[str, Any]:
    """What the SAM transform made of it (build/cfn.json): what CloudFormation deploys."""
    template: dict[str, Any] = json.loads((built / "cfn.json").read_text())
    return template
