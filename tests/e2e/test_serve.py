"""`python -m infra.local.serve`: the local stack answers over HTTP on loopback and its pump folds the stream."""

from __future__ import annotations

import json
import os
import queue
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.local.serve import READY

ROOT = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "MKT_PREFIX"}
    return {**env, "MKT_PREFIX": "e2e", **extra}


@pytest.fixture(scope="module")
def stack() -> Any:
    port, moto_port = _free_port(), _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "infra.local.serve", "--duration", "40", "--port", str(port),
         "--moto-port", str(moto_port), "--pump-interval", "0.5"],
        cwd=ROOT, env=_clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in server.stdout or []], daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + 90  # imports and provisioning are slow on a busy machine
    while not any(READY in line for line in seen):
        try:
            seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
        except queue.Empty:
            server.kill()
            pytest.fail("no ready line in 90 s:\n" + "".join(seen))
    # the printed create-merchant line works as printed, in a shell with no AWS settings of its own
    (printed,) = [line.split("merchant", 1)[1].strip() for line in seen if line.startswith("merchant ")]
    words = shlex.split(printed)
    assert words[words.index("-m") - 1] != "python" and "AWS_ENDPOINT_URL=" in printed, printed  # the venv's python
    created = subprocess.run(["bash", "-c", printed], cwd=ROOT, env=_clean_env(), capture_output=True, text=True,
                             timeout=60, check=True)
    merchant = json.loads(created.stdout)
    yield f"http://{HOST}:{port}", {"Authorization": f"Bearer {merchant['api_key']}"}
    server.send_signal(signal.SIGINT)  # Ctrl-C stops it cleanly
    assert server.wait(timeout=30) == 0


def test_serve_answers_health_when_running(stack):
    base, _ = stack
    assert requests.get(f"{base}/v1/health", timeout=10).json()["status"] == "ok"


def test_serve_reads_settings_when_key_is_given(stack):
    base, auth = stack
    assert requests.get(f"{base}/v1/settings", headers=auth, timeout=10).status_code == 200


def test_serve_answers_json_404_when_route_is_unknown(stack):
    base, auth = stack
    for headers in ({}, auth):
        r = requests.get(f"{base}/v1/no-such-route", headers=headers, timeout=10)
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "not_found"


def test_serve_answers_json_401_when_key_is_missing(stack):
    base, _ = stack
    r = requests.get(f"{base}/v1/settings", timeout=10)
    assert r.status_code == 401 and r.json()["error"]["field"] == "header.Authorization"


def test_serve_folds_orders_into_metrics_when_pump_runs(stack):
    base, auth = stack
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    order = {"order_id": "o1", "customer_id": "c1", "paid_at": now, "amount_fen": 500, "status": "paid"}
    assert requests.post(f"{base}/v1/customers/batch", json={"items": [{"customer_id": "c1"}]}, headers=auth,
                         timeout=10).status_code == 200
    assert requests.post(f"{base}/v1/orders/batch", json={"items": [order]}, headers=auth,
                         timeout=10).status_code == 200
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        metrics = requests.get(f"{base}/v1/customers/c1", headers=auth, timeout=10).json()["metrics"]
        if metrics["orders_total"] == 1:
            break
        time.sleep(0.5)
    assert metrics["orders_total"] == 1 and metrics["spend_total"] == 500
