"""Cold start of the packaged Lambda code: `import app` and the authorizer's first invocation, against `import boto3`.

`python -m bench.coldstart` (part of `make bench`; builds with `make package` first if build/ is stale). The two
zips are unpacked as Lambda lays them out (/var/task and /opt/python/lib/python3.13/site-packages) and each
measurement runs in a fresh interpreter of this venv with only those paths, the standard library and no bytecode
writing (Lambda's /var/task is read-only: a module without a shipped .pyc is compiled on every cold start). CPU
time (time.process_time) in 5 rounds of every probe; a ratio is the median of the rounds' ratios (a round's probes
run back to back, under the same load). The authorizer's path is its module's import plus one call with a
well-formed unknown key, whose GetItem goes to a local stub answering "no item".
Targets: `import app` <= 2.0x `import boto3`; the authorizer's path <= 1.3x.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"
RUNS = 5
TARGETS = {"import app": 2.0, "authorizer first invocation": 1.3}
SITE = "python/lib/python3.13/site-packages"

PROBES = {
    "import boto3": "import boto3",
    "import app": "import app",
    "authorizer first invocation": (
        "from chalicelib.core.authorizer import api_key_authorizer\n"
        "event = {'type': 'TOKEN', 'authorizationToken': 'Bearer mkt.m_nobody.k_nothing.' + 'x' * 43,\n"
        "         'methodArn': 'arn:aws:execute-api:us-east-1:123456789012:abc/api/GET/v1/settings'}\n"
        "api_key_authorizer(event, None)"),
}
CHILD = """\
import sys, time
sys.path[:] = [{task!r}, {site!r}] + [p for p in sys.path if 'site-packages' not in p and p]
started = time.process_time()
exec(compile({code!r}, '<probe>', 'exec'))
print(time.process_time() - started)
"""


class NoItem(BaseHTTPRequestHandler):
    """DynamoDB's answer to a GetItem of a key that does not exist."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


def unpack(target: Path) -> tuple[Path, Path, int]:
    """The zips as Lambda extracts them; returns (task, site-packages, unzipped bytes)."""
    size = 0
    for name, into in (("deployment.zip", target / "task"), ("layer-deployment.zip", target / "opt")):
        with zipfile.ZipFile(BUILD / name) as archive:
            archive.extractall(into)
            size += sum(i.file_size for i in archive.infolist())
    return target / "task", target / "opt" / SITE, size


def measure(task: Path, site: Path, code: str, env: dict[str, str]) -> float:
    done = subprocess.run([sys.executable, "-S", "-c", CHILD.format(task=str(task), site=str(site), code=code)],
                          env=env, capture_output=True, text=True, check=False, cwd=task)
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return float(done.stdout.strip().splitlines()[-1])


def rounds(task: Path, site: Path, env: dict[str, str]) -> list[dict[str, float]]:
    """RUNS rounds, each probe once a round: a ratio is taken within a round, so a shared machine's load, which
    changes by the minute, weighs on both sides of it alike."""
    return [{name: measure(task, site, code, env) for name, code in PROBES.items()} for _ in range(RUNS)]


def main() -> int:
    if subprocess.run([sys.executable, "-m", "infra.package", "--if-stale"], cwd=ROOT,
                      capture_output=True, check=False).returncode:
        print("coldstart: make package failed", file=sys.stderr)
        return 1
    server = ThreadingHTTPServer(("127.0.0.1", 0), NoItem)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "POWERTOOLS_METRICS_DISABLED": "true",
           "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.server_address[1]}", "MKT_TABLE_KEYS": "bench-keys",
           "AWS_LAMBDA_FUNCTION_NAME": "bench"}
    try:
        with tempfile.TemporaryDirectory(prefix="coldstart-") as tmp:
            task, site, size = unpack(Path(tmp))
            pyc = sum(1 for p in Path(tmp).rglob("*.cpython-313.pyc"))
            done = rounds(task, site, env)
    finally:
        server.shutdown()
    figures = {name: statistics.median(r[name] for r in done) for name in PROBES}
    ratios = {name: statistics.median(r[name] / r["import boto3"] for r in done) for name in TARGETS}
    base = figures["import boto3"]
    print(f"cold start (CPU, median of {RUNS}, {sys.version.split()[0]}, fresh interpreters, no bytecode writes):")
    print(f"  import boto3                    {base * 1000:7.1f} ms")
    missed = []
    for name, target in TARGETS.items():
        ratio = ratios[name]
        verdict = "met" if ratio <= target else "MISSED"
        if verdict == "MISSED":
            missed.append(name)
        print(f"  {name:31} {figures[name] * 1000:7.1f} ms = {ratio:.2f}x boto3 (target <= {target}x: {verdict})")
    print(f"  unpacked package: {size / 1e6:.1f} MB (app + layer), {pyc} precompiled .pyc for 3.13")
    print("RESULT " + json.dumps({"ms": {k: round(v * 1000, 1) for k, v in figures.items()}, "bytes": size,
                                  "pyc": pyc, "ratios": {k: round(v, 2) for k, v in ratios.items()}}))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
