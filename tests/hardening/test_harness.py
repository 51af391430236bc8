"""The fuzz harness itself: each broken promise it is meant to catch is reported (no moto, a scripted API)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from schemathesis import GenerationMode

from infra.local.gateway import ApiResponse
from tests.support.fuzz import Fuzzer, Identity

ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message", "reason"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "reason": {"type": "string"},
                   "field": {"type": ["string", "null"]}, "details": {"type": "array"}}}}}
DOCUMENT = {
    "openapi": "3.1.0", "info": {"title": "t", "version": "1"},
    "paths": {"/v1/things/{thing_id}": {"get": {
        "operationId": "get_thing", "security": [{"apiKey": []}], "x-roles": ["admin"],
        "parameters": [{"name": "thing_id", "in": "path", "required": True,
                        "schema": {"type": "string", "pattern": "^[a-z]{1,8}$"}}],
        "responses": {
            "200": {"description": "ok", "content": {"application/json": {"schema": {
                "type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}}}},
            "400": {"description": "bad", "content": {"application/json": {"schema": ERROR}}},
            "404": {"description": "none", "content": {"application/json": {"schema": ERROR}}}}}}},
    "components": {"securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}}},
}


class ScriptedApi:
    """Answers every request with what `answer(path)` says: (status, JSON body)."""

    def __init__(self, answer: Callable[[str], tuple[int, Any]]) -> None:
        self.answer = answer

    def request(self, method: str, path: str, body: Any = None, **kw: Any) -> ApiResponse:
        status, payload = self.answer(path)
        return ApiResponse(status, {"Content-Type": "application/json"}, json.dumps(payload).encode())


def run(answer: Callable[[str], tuple[int, Any]], identity: Identity | None = None) -> set[str]:
    fuzzer = Fuzzer(ScriptedApi(answer), DOCUMENT)
    fuzzer.run(identity or Identity("admin", "Bearer k"), {GenerationMode.POSITIVE: 5})
    assert fuzzer.total >= 1
    return {f.check for f in fuzzer.findings.values()}


def error(status: int, field: str | None) -> tuple[int, Any]:
    return status, {"error": {"code": "x", "message": "m", "reason": "why", "field": field, "details": []}}


def test_harness_reports_nothing_when_every_answer_keeps_the_contract() -> None:
    assert run(lambda path: (200, {"id": path.rsplit("/", 1)[-1]})) == set()
    assert run(lambda path: error(404, "path.thing_id")) == set()


def test_harness_reports_server_errors_and_off_schema_answers_when_the_api_breaks_them() -> None:
    assert "Server error" in run(lambda path: (500, {"id": "x"}))
    assert "Response violates schema" in run(lambda path: (200, {"name": "no id"}))
    assert "Undocumented status code" in run(lambda path: error(409, None))


def test_harness_reports_a_400_that_names_no_field_and_a_4xx_body_without_an_error_object() -> None:
    assert "error body" in run(lambda path: error(400, None))
    assert "error body" in run(lambda path: (404, {"message": "not found"}))


def test_harness_reports_a_tenant_leak_and_a_missing_refusal_when_keys_should_not_reach_data() -> None:
    secret = {"leaked_id_1"}
    leak = run(lambda path: (200, {"id": "leaked_id_1"}), Identity("foreign", "Bearer b", forbidden=frozenset(secret)))
    assert "tenant leak" in leak
    assert "auth" in run(lambda path: (200, {"id": "x"}), Identity("missing", None, rejected=True))
    assert "role" in run(lambda path: (200, {"id": "x"}), Identity("readonly", "Bearer r", role="readonly"))
