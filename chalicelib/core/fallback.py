"""Answers for methods a path does not support, so API Gateway returns 405 (not 403)."""

from __future__ import annotations

from chalice import Chalice

from chalicelib.core.errors import MethodNotAllowed
from chalicelib.core.http import error_response

# HEAD and OPTIONS too: API Gateway implements neither by itself for a path without CORS (it would answer 403).
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def add_method_fallbacks(app: Chalice) -> None:
    """Register a 405 view for every (path, method) no blueprint claimed."""
    for path, entries in list(app.routes.items()):
        missing = [m for m in METHODS if m not in entries]
        if not missing:
            continue
        allowed = ", ".join(sorted(entries))

        def not_allowed(allowed: str = allowed, **_: str) -> object:
            response = error_response(MethodNotAllowed(f"method not allowed; allowed: {allowed}", field="method"))
            response.headers["Allow"] = allowed
            return response

        not_allowed.__name__ = "method_not_allowed_" + "".join(c if c.isalnum() else "_" for c in path)
        app.route(path, methods=missing, content_types=["*/*"])(not_allowed)
