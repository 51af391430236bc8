"""Builds the OpenAPI 3.1 document from the route registry and the pydantic schemas."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from chalicelib.audiences.rule_schema import rule_components
from chalicelib.core.http import ROUTES, RouteDoc
from chalicelib.core.schemas import ErrorBody

REF = "#/components/schemas/{model}"
_ERRORS = {
    "400": "invalid input: the body names the field and the reason",
    "401": "missing credential",
    "403": "the key is unknown, revoked, or its role may not do this",
    "404": "no such item for this merchant, or no such route",
    "405": "method not allowed on this path",
    "409": "the item's state forbids this",
    "412": "If-Match names a stale version",
    "413": "body or batch over the documented limit",
    "429": "a merchant quota would be exceeded; the body names the limit",
    "503": "DynamoDB or SQS is throttling or failing right now: resend the same request after Retry-After",
}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    params = []
    for name, prop in schema.get("properties", {}).items():
        params.append({"name": name, "in": "query", "required": name in schema.get("required", []),
                       "schema": prop})
    return params


def _operation(doc: RouteDoc) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": doc.summary, "tags": [doc.tag],
                          "operationId": f"{doc.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', doc.path.lower())}"}
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True,
         "schema": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"}}
        for name in re.findall(r"{(\w+)}", doc.path)
    ]
    if doc.query is not None:
        params += _query_parameters(doc.query)
    if doc.idempotent:
        params.append({"name": "Idempotency-Key", "in": "header", "required": False,
                       "schema": {"type": "string", "minLength": 1, "maxLength": 128}})
    if doc.if_match:
        params.append({"name": "If-Match", "in": "header", "required": False,
                       "schema": {"type": "string", "pattern": r'^"?[0-9]{1,12}"?$'}})
    if params:
        op["parameters"] = params
    if doc.body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": REF.format(model=doc.body.__name__)}}}}
    ok: dict[str, Any] = {"description": "success"}
    if doc.response is not None:
        ok["content"] = {"application/json": {"schema": {"$ref": REF.format(model=doc.response.__name__)}}}
    if doc.csv:
        ok.setdefault("content", {})["text/csv"] = {"schema": {
            "type": "string", "description": "?format=csv: UTF-8 behind a byte-order mark (Content-Type text/csv; "
            "charset=utf-8), CRLF rows, a header row; times in the merchant's zone as ISO 8601 with the offset "
            "(2026-11-23T18:00:00+08:00); text a spreadsheet would run as a formula is prefixed with '"}}
    error = {"content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorBody")}}}}
    op["responses"] = {str(doc.status): ok, **{code: {"description": text, **error} for code, text in _ERRORS.items()}}
    if doc.roles is not None:
        op["security"] = [{"apiKey": []}]
        op["x-roles"] = sorted(r.value for r in doc.roles)
    else:
        op["security"] = []
    return op


def build_document() -> dict[str, Any]:
    """The whole document: every registered route, every schema it references."""
    models: set[type[BaseModel]] = {ErrorBody}
    for doc in ROUTES:
        models.update(m for m in (doc.body, doc.response) if m is not None)
    ordered = sorted(models, key=lambda m: m.__name__)
    _, defs = models_json_schema([(m, "validation") for m in ordered], ref_template=REF)
    paths: dict[str, dict[str, Any]] = {}
    for doc in ROUTES:
        paths.setdefault(doc.path, {})[doc.method.lower()] = _operation(doc)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Precision marketing engine", "version": "1.0.0",
                 "description": "Pick customers, reach them without harassing anyone, see what it earned."},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {**defs.get("$defs", {}), **rule_components()},
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer",
                                           "description": "mkt.<merchant>.<key id>.<secret>"}},
        },
    }
