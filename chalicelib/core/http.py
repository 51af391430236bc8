"""The HTTP edge: one route decorator that authenticates, validates, and maps errors to JSON."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalice import Blueprint, Response
from pydantic import BaseModel, ValidationError

from chalicelib.core.auth import Principal, Role
from chalicelib.core.authorizer import api_key_authorizer
from chalicelib.core.errors import (
    AppError,
    FieldIssue,
    Forbidden,
    Invalid,
    MalformedBody,
    NotFound,
    TooLarge,
    Unauthorized,
    Unavailable,
)
from chalicelib.core.transient import RETRY_AFTER_SECONDS, is_transient

log = logging.getLogger(__name__)
JSON = "application/json"
ACCEPTED_CONTENT_TYPES = [JSON, "text/plain", "text/csv", "application/x-www-form-urlencoded",
                          "multipart/form-data", "application/xml", "application/octet-stream"]
PATH_PARAM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
MAX_BODY_BYTES = 1_048_576
# Arrays and objects nest at most this deep in a body (ours nest a handful of levels). An explicit limit, checked
# before decoding: how deep json.loads itself can go depends on the interpreter (3.11 raises RecursionError
# near 1,000 levels, 3.12+ much deeper), so the answer would otherwise differ between runtimes.
MAX_JSON_DEPTH = 64
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_INNERMOST = re.compile(rb"\[\]|\{\}")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


@dataclass(frozen=True)
class RouteDoc:
    """What the OpenAPI document says of one route."""

    path: str
    method: str
    summary: str
    tag: str
    roles: frozenset[Role] | None
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    idempotent: bool
    if_match: bool
    csv: bool


ROUTES: list[RouteDoc] = []


@dataclass
class Request:
    """A validated request as a view sees it."""

    principal: Principal
    body: Any
    query: Any
    headers: Mapping[str, str]
    idempotency_key: str | None = None
    if_match: int | None = None


@dataclass
class Reply:
    """A view's answer when it is not a plain 200 JSON body."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON


def error_body(err: AppError) -> dict[str, Any]:
    """The one JSON error shape: code, message, field, reason, details."""
    details = err.details or ([FieldIssue(err.field, err.reason)] if err.field else [])
    message = f"{err.field}: {err.reason}" if err.field else err.reason
    return {
        "error": {
            "code": err.code,
            "message": message,
            "field": err.field,
            "reason": err.reason,
            "details": [{"field": d.field, "reason": d.reason} for d in details],
        }
    }


def error_response(err: AppError) -> Response:
    """AppError → chalice Response."""
    return Response(body=json.dumps(error_body(err)), status_code=err.status,
                    headers={"Content-Type": JSON})


def invalid_from(exc: ValidationError, where: str) -> Invalid:
    """pydantic errors → Invalid naming each field by dotted path."""
    issues = []
    for item in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in (where, *item["loc"]))
        issues.append(FieldIssue(loc, item["msg"]))
    first = issues[0] if issues else FieldIssue(where, "invalid")
    return Invalid(first.reason, field=first.field, details=issues)


def dump(value: Any) -> Any:
    """JSON-ready form of a view result."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [dump(v) for v in value]
    if isinstance(value, dict):
        return {k: dump(v) for k, v in value.items()}
    return value


def principal_of(context: Mapping[str, Any] | None) -> Principal:
    """The principal the authorizer put into the request context."""
    auth = (context or {}).get("authorizer") or {}
    merchant = auth.get("merchant_id")
    role = auth.get("role")
    if not merchant or role not in set(Role):
        raise Unauthorized("a valid API key is required", field="header.Authorization")
    return Principal(merchant_id=merchant, role=Role(role), key_id=auth.get("key_id", ""),
                     staff_id=auth.get("staff_id") or None)


def _too_deep(data: bytes) -> bool:
    """True when brackets outside strings nest deeper than MAX_JSON_DEPTH (each pass drops the innermost pairs)."""
    brackets = _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    for _ in range(MAX_JSON_DEPTH):
        if not brackets:
            return False
        brackets, pairs = _INNERMOST.subn(b"", brackets)
        if not pairs:
            return False  # unbalanced: json.loads names the error
    return bool(brackets) and _INNERMOST.search(brackets) is not None


def _parse_body(raw: bytes | str | None, headers: Mapping[str, str], model: type[BaseModel]) -> Any:
    data = raw.encode() if isinstance(raw, str) else (raw or b"")
    if len(data) > MAX_BODY_BYTES:
        raise TooLarge(f"body is over the limit of {MAX_BODY_BYTES} bytes", field="body")
    if not data.strip():
        raise Invalid("a JSON body is required", field="body")
    ctype = headers.get("content-type", JSON).lower()
    if "json" not in ctype:
        raise Invalid(f"content type must be {JSON}", field="header.Content-Type")
    if _too_deep(data):
        raise MalformedBody(f"body nests arrays or objects more than {MAX_JSON_DEPTH} deep", field="body")
    try:
        parsed = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedBody("body is not valid JSON", field="body") from exc
    except RecursionError as exc:  # the decoder recurses per level of [ or {: thousands of them exhaust the stack
        raise MalformedBody("body nests arrays or objects too deeply", field="body") from exc
    try:
        return model.model_validate(parsed)
    except ValidationError as exc:
        raise invalid_from(exc, "body") from exc


def _parse_query(params: Mapping[str, str] | None, model: type[BaseModel] | None) -> Any:
    params = dict(params or {})
    if model is None:
        if params:
            name = sorted(params)[0]
            raise Invalid("unknown query parameter", field=f"query.{name}")
        return None
    try:
        return model.model_validate(params)
    except ValidationError as exc:
        raise invalid_from(exc, "query") from exc


def _parse_if_match(headers: Mapping[str, str]) -> int | None:
    value = headers.get("if-match")
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 12:
        raise Invalid("If-Match must be the version number you read", field="header.If-Match")
    return int(text)


def _parse_idempotency_key(headers: Mapping[str, str]) -> str | None:
    value = headers.get("idempotency-key")
    if value is None:
        return None
    if not (1 <= len(value) <= 128) or not value.isprintable():
        raise Invalid("Idempotency-Key must be 1-128 printable characters", field="header.Idempotency-Key")
    return value


def _to_response(result: Any, status: int) -> Response:
    if isinstance(result, Response):
        return result
    if isinstance(result, Reply):
        headers: dict[str, str | list[str]] = {"Content-Type": result.content_type, **result.headers}
        body = result.body if result.content_type != JSON else json.dumps(dump(result.body))
        return Response(body=body, status_code=result.status, headers=headers)
    if status == 204:
        return Response(body="", status_code=204)
    return Response(body=json.dumps(dump(result)), status_code=status, headers={"Content-Type": JSON})


def route(
    bp: Blueprint,
    path: str,
    method: str,
    *,
    summary: str,
    tag: str,
    roles: frozenset[Role] | None,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    idempotent: bool = False,
    if_match: bool = False,
    csv: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a view on `bp`; `roles=None` means public (no credential)."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        def view(**path_params: str) -> Response:
            request = bp.current_request
            try:
                headers = request.headers
                principal = principal_of(request.context) if roles is not None else None
                # The role first: a key that may not call the route learns nothing about its input (always 403).
                if roles is not None and principal is not None and principal.role not in roles:
                    raise Forbidden(f"role {principal.role.value} may not call {method} {path}")
                for name, value in path_params.items():
                    if not PATH_PARAM.match(value or ""):
                        raise NotFound("no such item", field=f"path.{name}")
                parsed_query = _parse_query(request.query_params, query)
                parsed_body = _parse_body(request.raw_body, headers, body) if body is not None else None
                req = Request(
                    principal=principal,  # type: ignore[arg-type]
                    body=parsed_body,
                    query=parsed_query,
                    headers=headers,
                    idempotency_key=_parse_idempotency_key(headers) if idempotent else None,
                    if_match=_parse_if_match(headers) if if_match else None,
                )
                return _to_response(fn(req, **path_params), status)
            except AppError as err:
                return error_response(err)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                # DynamoDB or SQS throttled, failed or timed out after botocore's own retries: not a bug (500)
                # but a moment's unavailability; every write here is idempotent, so the client may resend.
                log.warning("%s %s: transient AWS failure: %s", method, path, exc)
                unavailable = error_response(Unavailable("a storage or queue service is busy; retry shortly"))
                unavailable.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
                return unavailable

        view.__name__ = fn.__name__
        view.__doc__ = fn.__doc__
        bp.route(
            path,
            methods=[method],
            authorizer=api_key_authorizer if roles is not None else None,
            content_types=ACCEPTED_CONTENT_TYPES,
        )(view)
        ROUTES.append(RouteDoc(path, method, summary, tag, roles, body, query, response, status,
                               idempotent, if_match, csv))
        return fn

    return decorate
