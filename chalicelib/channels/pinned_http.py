"""One HTTP(S) POST to a checked address, the name kept for SNI and Host, cut off at a total deadline."""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.core.egress import EgressPolicy, IPAddress, Refused, Target, resolve


@dataclass(frozen=True)
class Answer:
    """What one POST got: the status, or None with `error` saying why (for our logs only)."""

    status: int | None
    error: str | None = None
    address: str | None = None
    seconds: float = 0.0


class _Pinned(http.client.HTTPSConnection):
    """HTTPSConnection to `address` while SNI, certificate checks and Host use the URL's name."""

    def __init__(self, target: Target, address: IPAddress, timeout: float, context: ssl.SSLContext | None) -> None:
        self._ctx = context or ssl.create_default_context()
        super().__init__(target.host, target.port, timeout=timeout, context=self._ctx)
        self._address = address
        self._tls = target.scheme == "https"
        self.raw: socket.socket | None = None

    def connect(self) -> None:
        raw = socket.create_connection((str(self._address), self.port), self.timeout)
        self.raw = raw
        self.sock = self._ctx.wrap_socket(raw, server_hostname=self.host) if self._tls else raw

    def kill(self) -> None:
        """Called by the deadline timer: whatever the connection is blocked in (connect, TLS, a slow read) ends."""
        for sock in (self.sock, self.raw):
            if sock is None:
                continue
            with contextlib.suppress(OSError):  # already closed: nothing left to cut
                sock.shutdown(socket.SHUT_RDWR)


def post(target: Target, body: bytes, headers: Mapping[str, str], deadline: float, *,
         policy: EgressPolicy, context: ssl.SSLContext | None = None) -> Answer:
    """POST `body` within `deadline` seconds in total (resolution, connect, TLS, sending, the status line).

    A socket timeout alone bounds each read, so a receiver dripping a byte a second would hold the call for
    ever; the timer shuts the socket down at the deadline whatever is in progress. Redirects are never followed.
    """
    started = time.monotonic()
    try:
        address = resolve(target, policy, timeout=min(deadline, 2.0))
    except Refused as exc:
        return Answer(None, f"refused: {exc}", None, time.monotonic() - started)
    remaining = deadline - (time.monotonic() - started)
    if remaining <= 0:
        return Answer(None, "deadline before connect", str(address), time.monotonic() - started)
    conn = _Pinned(target, address, remaining, context)
    timer = threading.Timer(remaining, conn.kill)
    timer.daemon = True
    timer.start()
    try:
        conn.request("POST", target.path, body=body, headers={**headers, "Host": target.host_header})
        status = conn.getresponse().status  # the body is never read: the status is the whole answer
        elapsed = time.monotonic() - started
        if elapsed > deadline:
            return Answer(None, f"deadline of {deadline:.1f}s passed", str(address), elapsed)
        return Answer(status, None, str(address), elapsed)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        elapsed = time.monotonic() - started
        why = f"deadline of {deadline:.1f}s passed" if elapsed >= deadline - 0.05 else f"{type(exc).__name__}: {exc}"
        return Answer(None, why, str(address), elapsed)
    finally:
        timer.cancel()
        conn.close()
