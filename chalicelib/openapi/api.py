"""Route: the OpenAPI document, generated from the registered routes."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.core.http import Request, route
from chalicelib.openapi.service import build_document

bp = Blueprint(__name__)


@route(bp, "/v1/openapi.json", "GET", summary="The OpenAPI 3 document of every route", tag="meta", roles=None)
def openapi_document(req: Request) -> dict[str, Any]:
    return build_document()
