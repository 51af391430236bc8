"""`make serve`: the local stack on loopback: a moto server, the HTTP API as `chalice local` serves it, an event pump.

The API answers with our API Gateway responses (infra/local/gateway.py), and a pump thread does what
EventBridge, SQS and DynamoDB Streams do on AWS: it fires `tick` at every new wall-clock minute and
drains the queues and the activity stream into the very same handlers (infra/local/runtime.py).
Environment must be set before chalicelib is imported (its config is read once), so imports are late.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import shlex
import signal
import socket
import sys
import threading
import time
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from chalice.local import ChaliceRequestHandler, LocalGatewayException

HOST = "127.0.0.1"  # loopback only: the stack has fake credentials and no TLS
READY = "local stack ready"
log = logging.getLogger("serve")


class GatewayHandler(ChaliceRequestHandler):
    """chalice local's request handler, with API Gateway's own errors rewritten as on AWS."""

    def _send_error_response(self, error: LocalGatewayException) -> None:
        from infra.local.gateway import rewrite

        status, headers, body = rewrite(error.CODE, dict(error.headers), error.body or b"")
        self._send_http_response(status, headers, body)

    def _generic_handle(self) -> None:
        from chalice.local import NotAuthorizedError, RouteMatcher

        from infra.local.gateway import refused_by_validation

        gateway = self.local_gateway
        handle = gateway.handle_request
        app = gateway._app_object

        def guarded(**kwargs: Any) -> Any:
            if refused_by_validation(app, RouteMatcher(list(app.routes)), kwargs["method"], kwargs["path"],
                                     kwargs["headers"]):
                raise NotAuthorizedError({"x-amzn-ErrorType": "UnauthorizedException"}, b'{"message": "x"}')
            try:
                return handle(**kwargs)
            except LocalGatewayException:
                raise
            except Exception as exc:  # only the authorizer's failures escape (a failing view answers 500)
                log.warning("authorizer failed: %s", exc)
                raise AuthorizerFailure() from exc

        gateway.handle_request = guarded  # type: ignore[method-assign,assignment]
        super()._generic_handle()


class AuthorizerFailure(LocalGatewayException):
    """API Gateway's AUTHORIZER_FAILURE, answered as infra/package.py configures it (503 + Retry-After)."""

    CODE = 503

    def __init__(self) -> None:
        from infra.local.gateway import authorizer_failure

        _, headers, body = authorizer_failure()
        super().__init__(headers, body)


class EventPump(threading.Thread):
    """Every `interval` seconds: `tick` once per new wall-clock minute (or every `tick_interval` seconds when
    that is shorter), then drain queues and stream."""

    def __init__(self, runtime: Any, stop: threading.Event, interval: float, tick_interval: float = 60.0) -> None:
        super().__init__(name="event-pump", daemon=True)
        self.runtime = runtime
        self.stop = stop
        self.interval = interval
        self.tick_interval = tick_interval
        self.last_minute: datetime | None = None

    def _tick_at(self, now: datetime) -> datetime | None:
        """When to tick this round: EventBridge's rate(1 minute) by default; a shorter interval ticks at the wall
        time itself, so work due now starts within seconds (soak runs, demos)."""
        if self.tick_interval >= 60:
            minute = now.replace(second=0, microsecond=0)
            return minute if minute != self.last_minute else None
        if self.last_minute is None or (now - self.last_minute).total_seconds() >= self.tick_interval:
            return now
        return None

    def run(self) -> None:
        from chalicelib import wiring
        from chalicelib.core.clock import system_clock

        while not self.stop.is_set():
            try:
                minute = self._tick_at(datetime.now(UTC))
                if minute is not None:
                    self.last_minute = minute
                    self.runtime.tick(minute)
                    # tick() pins the wired clock to its minute (as a replayed tick would); the API and
                    # the workers go back to the wall clock.
                    wiring.set_clock(system_clock)
                stats = self.runtime.drain()
                moved = {**stats.sqs_messages, "stream": stats.stream_records}
                failed = {**stats.sqs_failures, "stream": stats.stream_failures}
                if any(moved.values()) or any(failed.values()):
                    log.info("pump delivered %s, failed %s", _counts(moved), _counts(failed))
            except Exception:  # a failing handler must not stop the pump; the next round retries
                log.exception("event pump round failed")
            self.stop.wait(self.interval)


def _counts(counts: dict[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in counts.items() if v) or "none"


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def local_environment(moto_port: int) -> dict[str, str]:
    """What the app (and `python -m chalicelib.admin`) needs to talk to this moto server."""
    return {
        "AWS_ENDPOINT_URL": f"http://{HOST}:{moto_port}",
        "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled", "MKT_PREFIX": os.environ.get("MKT_PREFIX", "mkt"),
        # EMF metrics only mean something to CloudWatch; locally they would interleave with the server's log.
        "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.local.serve", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="HTTP API port on 127.0.0.1 (default 8000)")
    parser.add_argument("--moto-port", type=int, default=5000, help="moto server port on 127.0.0.1 (default 5000)")
    parser.add_argument("--duration", type=float, default=None, help="stop by itself after this many seconds")
    parser.add_argument("--pump-interval", type=float, default=2.0, help="seconds between event pump rounds")
    parser.add_argument("--tick-interval", type=float, default=60.0,
                        help="seconds between ticks (default 60: once per wall-clock minute, as EventBridge)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Warnings from libraries; the pump's own lines at INFO (moto's per-request lines would drown them).
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    log.setLevel(logging.INFO)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # werkzeug sets itself to INFO otherwise
    busy = [p for p in (args.port, args.moto_port) if not _free(p)]
    if busy or args.port == args.moto_port:
        print(f"serve: port(s) {busy or [args.port]} on {HOST} not free; pick others with --port/--moto-port",
              file=sys.stderr)
        return 2
    env = local_environment(args.moto_port)
    os.environ.update(env)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION"):
        os.environ.pop(name, None)

    from moto.server import ThreadedMotoServer

    from devtools import fastmoto

    fastmoto.install()  # the server runs in this process: the same moto semantics as the tests
    moto_server = ThreadedMotoServer(ip_address=HOST, port=args.moto_port, verbose=False)
    moto_server.start()

    from chalice.config import Config
    from chalice.local import create_local_server

    import app as handlers
    from infra.local.provision import provision
    from infra.local.runtime import LocalRuntime

    provision()
    runtime = LocalRuntime(handlers)
    config = Config.create(chalice_stage="dev", app_name=handlers.app.app_name, lambda_timeout=30,
                           lambda_memory_size=1024)
    server = create_local_server(handlers.app, config, HOST, args.port)
    server.server.RequestHandlerClass = functools.partial(GatewayHandler, app_object=server.app_object,
                                                          config=config)
    http = threading.Thread(target=server.server.serve_forever, name="http", daemon=True)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    http.start()
    pump = EventPump(runtime, stop, args.pump_interval, args.tick_interval)
    pump.start()

    exports = " ".join(f"{k}={v}" for k, v in env.items())
    print(f"API          http://{HOST}:{args.port}/v1/health  (OpenAPI: /v1/openapi.json)")
    print(f"AWS (moto)   {env['AWS_ENDPOINT_URL']}  tables and queues prefixed {env['MKT_PREFIX']}-")
    python = shlex.quote(os.path.relpath(sys.executable) if sys.executable.startswith(os.getcwd()) else sys.executable)
    # the venv's python, as a path from here: a bare `python` is the system's, without the project's packages
    print(f"merchant     {exports} {python} -m chalicelib.admin create-merchant --name 'My Store'")
    print(f"{READY}: Ctrl-C to stop" + (f" (stops by itself after {args.duration:g}s)" if args.duration else ""),
          flush=True)

    deadline = None if args.duration is None else time.monotonic() + args.duration
    while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
        stop.wait(0.5)
    stop.set()
    server.shutdown()
    pump.join(timeout=30)
    moto_server.stop()
    print("local stack stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
