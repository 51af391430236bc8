"""`make demo` end to end: the whole story on a small sample exits 0 and prints every chapter's key line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

# One line per chapter that only a successful chapter prints (expectations print "✓ ...", failures "!! ...").
KEY_LINES = (
    "✓ everything ingested and folded by the activity stream consumer",
    "✓ at least four of the six RFM cells are non-empty",
    "✓ the estimate counts members and samples up to 20 of them",
    "✓ the order redeemed the claimed coupon through the activity stream",
    "✓ every consenting customer got one SMS through SNS publish",
    "✓ the receiver verified the X-Signature HMAC-SHA256 of every POST",
    "✓ the staff owner sees one task per friend, and only their own",
    "✓ the paused campaign holds its second batch back (pending)",
    "✓ the run completed after its last batch and the once campaign ended",
    "✓ the daily campaign ran Monday and Tuesday",
    "sku_039 buyers were touched once each despite the resent batch",
    "cap_weekly_store_coupon",
    "released at 09:00",
    "周一回流券 is credited with its reached customers' orders",
    "lift         treated",
    "✓ the dashboard adds up the week's reach and attributed orders",
    "✓ every reached customer holds exactly one of the two coupons, its treatment's",
    "✓ each treatment is credited its own buyers, their redeemed coupons and nothing of the other's",
    "verdict: ",
    "✓ each staff owner gets the follow-up task: a task is no message to the customer",
    "consecutive days (no cap_weekly_store_coupon)",
    "✓ the loosening is recorded at activation and shown in the report",
    "0 failure(s)",
)


def test_demo_tells_the_whole_story_when_run_on_a_small_sample() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "MKT_PREFIX"}
    env.update(DEMO_CUSTOMERS="150", PYTHONUNBUFFERED="1")
    done = subprocess.run([sys.executable, "-m", "infra.local.demo"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-6000:]
    missing = [line for line in KEY_LINES if line not in out]
    assert not missing, f"missing {missing} in:\n{out[-6000:]}"
    assert "!!" not in done.stdout, done.stdout[-6000:]
