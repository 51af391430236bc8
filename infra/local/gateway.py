"""API Gateway's configured gateway responses, applied to chalice's local gateway answers.

infra/template.yml maps MISSING_AUTHENTICATION_TOKEN to 404 and gives UNAUTHORIZED and
ACCESS_DENIED our JSON error shape; chalice local and chalice.test answer with API Gateway's
defaults, so the local stack rewrites those the same way.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from chalicelib.core.apikeys import HEADER_PATTERN
from chalicelib.core.errors import AppError, Forbidden, NotFound, Unauthorized, Unavailable
from chalicelib.core.http import error_body
from chalicelib.core.transient import RETRY_AFTER_SECONDS

HEADER = re.compile(HEADER_PATTERN)

log = logging.getLogger(__name__)


def gateway_error(status: int, headers: dict[str, str], body: bytes) -> AppError | None:
    """The AppError our gateway responses turn a chalice-local gateway error into, if any."""
    lowered = {k.lower(): v for k, v in headers.items()}
    kind = lowered.get("x-amzn-errortype")
    if kind is None:
        return None
    text = body.decode(errors="replace") if body else ""
    if status == 403 and ("Missing Authentication Token" in text or "Authorization header requires" in text):
        return NotFound("no such route", field="path")
    if status == 401:
        return Unauthorized("an Authorization: Bearer <api key> header is required", field="header.Authorization")
    if status == 403:
        return Forbidden("the API key is unknown or revoked", field="header.Authorization")
    return None


def authorizer_failure() -> tuple[int, dict[str, str], bytes]:
    """API Gateway's AUTHORIZER_FAILURE as infra/package.py configures it: 503 + Retry-After, our JSON shape.

    The authorizer fails when the key lookup meets a throttled or failing DynamoDB; the client may resend.
    """
    err = Unavailable("the API key could not be checked right now; retry shortly", field="header.Authorization")
    return (err.status, {"Content-Type": "application/json", "Retry-After": str(RETRY_AFTER_SECONDS)},
            json.dumps(error_body(err)).encode())


def refused_by_validation(app: Any, routes: Any, method: str, path: str, headers: Mapping[str, str]) -> bool:
    """API Gateway's identityValidationExpression (infra/stack/api.py): a present Authorization header that does not
    look like one of our keys is a 401 before the authorizer runs; chalice's local gateway has no such step."""
    header = {k.lower(): v for k, v in headers.items()}.get("authorization")
    if header is None or HEADER.fullmatch(header):
        return False
    try:
        route = routes.match_route(path).route
    except ValueError:
        return False
    entry = app.routes[route].get(method.upper())
    return entry is not None and entry.authorizer is not None


def rewrite(status: int, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
    """Apply the gateway responses to one answer."""
    err = gateway_error(status, headers, body)
    if err is None:
        return status, headers, body
    return err.status, {"Content-Type": "application/json"}, json.dumps(error_body(err)).encode()


class ApiClient:
    """chalice.test's HTTP client with our gateway responses and JSON in and out."""

    def __init__(self, app: Any) -> None:
        from chalice.local import RouteMatcher
        from chalice.test import Client

        self._app = app
        self._routes = RouteMatcher(list(app.routes))
        self._client = Client(app)
        self.http = self._client.http

    def _refused_by_validation(self, method: str, path: str, headers: dict[str, str]) -> bool:
        return refused_by_validation(self._app, self._routes, method, path, headers)

    def request(self, method: str, path: str, body: Any = None, *, token: str | None = None,
                headers: dict[str, str] | None = None, raw: bytes | str | None = None) -> ApiResponse:
        sent = {"Content-Type": "application/json", **(headers or {})}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        payload: bytes | str | None = raw if raw is not None else (json.dumps(body) if body is not None else None)
        data = payload.encode() if isinstance(payload, str) else payload
        if self._refused_by_validation(method, path, sent):
            return ApiResponse(*rewrite(401, {"x-amzn-ErrorType": "UnauthorizedException"}, b'{"message": "x"}'))
        try:
            response = self.http.request(method, path, headers=sent, body=data or b"")
        except Exception:  # only the authorizer's failures escape chalice's gateway (a view's answer 500)
            log.warning("authorizer failed on %s %s", method, path, exc_info=True)
            return ApiResponse(*authorizer_failure())
        status, out_headers, out_body = rewrite(response.status_code, dict(response.headers), response.body or b"")
        return ApiResponse(status, out_headers, out_body)

    def get(self, path: str, **kw: Any) -> ApiResponse:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> ApiResponse:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> ApiResponse:
        return self.request("PUT", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> ApiResponse:
        return self.request("PATCH", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> ApiResponse:
        return self.request("DELETE", path, **kw)

    def close(self) -> None:
        self._client.__exit__(None, None, None)


class ApiResponse:
    """Status, headers and the decoded body (JSON when it is JSON)."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.raw = body
        self.text = body.decode(errors="replace") if isinstance(body, bytes) else str(body)
        try:
            self.json: Any = json.loads(self.text) if self.text else None
        except ValueError:
            self.json = None

    def __repr__(self) -> str:
        return f"<ApiResponse {self.status} {self.text[:300]}>"
