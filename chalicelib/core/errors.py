"""Typed domain errors; mapped to HTTP in exactly one place (core.http)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldIssue:
    """One problem with one input field (dotted path) and why."""

    field: str
    reason: str


class AppError(Exception):
    """Base of every error the product raises on purpose."""

    code = "error"
    status = 400

    def __init__(self, reason: str, field: str | None = None, details: list[FieldIssue] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field
        self.details = details or []


class Invalid(AppError):
    """Input is well-formed but breaks a rule (400)."""

    code = "invalid"
    status = 400


class MalformedBody(AppError):
    """The body is not JSON (400)."""

    code = "malformed_json"
    status = 400


class Unauthorized(AppError):
    """No usable credential (401)."""

    code = "unauthorized"
    status = 401


class Forbidden(AppError):
    """The credential's role may not do this (403)."""

    code = "forbidden"
    status = 403


class NotFound(AppError):
    """No such item for this merchant (404); never reveals other tenants' items."""

    code = "not_found"
    status = 404


class MethodNotAllowed(AppError):
    """The path exists but not with this method (405)."""

    code = "method_not_allowed"
    status = 405


class Conflict(AppError):
    """The item's state forbids this change (409)."""

    code = "conflict"
    status = 409


class PreconditionFailed(AppError):
    """If-Match named a version that is no longer current (412)."""

    code = "precondition_failed"
    status = 412


class TooLarge(AppError):
    """Body or batch over the documented limit (413)."""

    code = "too_large"
    status = 413


class QuotaExceeded(AppError):
    """A merchant limit would be exceeded (429); `field` names the limit."""

    code = "quota_exceeded"
    status = 429


class Unavailable(AppError):
    """A storage or queue service is throttling or failing right now; the same request may be retried (503)."""

    code = "unavailable"
    status = 503
