"""A short soak of the local stack: a mixed concurrent load, then ledger, counters and reports must agree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_ledger_counters_and_reports_agree_when_the_stack_ran_a_short_mixed_load() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "MKT_PREFIX"}
    done = subprocess.run([sys.executable, "-m", "infra.local.soak", "--seconds", "15", "--workers", "2",
                           "--campaigns", "2", "--settle", "240"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 errors" in done.stdout and "ledger, counters and reports agree" in done.stdout
