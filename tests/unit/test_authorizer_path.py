"""The authorizer's Lambda imports its own module only (Handler chalicelib.core.authorizer.api_key_authorizer)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_authorizer_module_alone_imports_neither_app_nor_the_wiring_nor_the_stores():
    """Lambda never imports app.py for the authorizer: a key resolver set by app.py is absent there (every request
    failed as AUTHORIZER_FAILURE), and the stores, PynamoDB and pydantic models are cold-start cost it never uses."""
    probe = ("import sys; import chalicelib.core.authorizer as a; "
             "heavy = sorted(m for m in sys.modules if m == 'app' or m.startswith(('chalicelib.wiring', "
             "'chalicelib.tenancy', 'chalicelib.dispatch', 'pynamodb', 'aws_lambda_powertools'))); "
             "print(heavy); assert callable(a.api_key_authorizer)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
