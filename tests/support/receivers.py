"""Webhook receivers on loopback for tests: scripted statuses, a byte-dripping one, TLS with a name's certificate."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import socket
import ssl
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SECRET = "whsec_0123456789abcdef"


class Hook:
    """A loopback endpoint answering a scripted list of statuses (the last one repeats); `tls` serves HTTPS with a
    self-signed certificate for `name` (tests trust it through `client_context`)."""

    def __init__(self, tls_name: str | None = None) -> None:
        self.statuses = [200]
        self.location: str | None = None  # sent with 3xx answers
        self.requests: list[dict[str, Any]] = []
        self.sni: list[str | None] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                stamp = self.headers["X-Timestamp"]
                expected = "sha256=" + hmac.new(SECRET.encode(), f"{stamp}.".encode() + body,
                                                hashlib.sha256).hexdigest()
                valid = hmac.compare_digest(expected, self.headers["X-Signature"])
                hook.requests.append({"valid": valid, "body": json.loads(body), "path": self.path,
                                      "host": self.headers["Host"], "delivery_id": self.headers["X-Delivery-Id"]})
                index = min(len(hook.requests) - 1, len(hook.statuses) - 1)
                status = hook.statuses[index] if valid else 401
                self.send_response(status)
                if hook.location and 300 <= status < 400:
                    self.send_header("Location", hook.location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def do_GET(self) -> None:  # a followed redirect would arrive here
                hook.requests.append({"valid": False, "body": None, "path": self.path, "host": self.headers["Host"],
                                      "delivery_id": None, "method": "GET"})
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.client_context: ssl.SSLContext | None = None
        if tls_name:
            server_ctx, self.client_context = tls_contexts(tls_name)
            server_ctx.sni_callback = lambda sock, name, ctx: hook.sni.append(name)  # type: ignore[assignment]
            self.server.socket = server_ctx.wrap_socket(self.server.socket, server_side=True)
        self.url = f"http://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def tls_contexts(name: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context with a fresh self-signed certificate for `name`, client context trusting only it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    with tempfile.TemporaryDirectory() as tmp:
        cert_path, key_path = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        cert_path.write_bytes(pem)
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cadata=pem.decode())
    return server, client


class Drip:
    """A receiver that accepts the POST and then answers one byte every `interval` seconds, for `total` seconds."""

    def __init__(self, interval: float = 0.3, total: float = 8.0) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/drip"
        self.connections = 0
        self._interval, self._total = interval, total
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
        ends = time.monotonic() + self._total
        try:
            conn.recv(65536)
            for byte in answer:
                if self._stop.is_set() or time.monotonic() > ends:
                    break
                conn.sendall(bytes([byte]))
                time.sleep(self._interval)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
