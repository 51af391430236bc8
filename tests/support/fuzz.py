"""Sends schemathesis-generated requests through the Chalice test client and collects every broken promise."""

from __future__ import annotations

import contextlib
import json
import os
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.transport import Response
from schemathesis.specs.openapi import checks as openapi_checks

CHECKS = [not_a_server_error, openapi_checks.status_code_conformance, openapi_checks.content_type_conformance,
          openapi_checks.response_headers_conformance, openapi_checks.response_schema_conformance]
# A 400 names the input at fault; a 413 the body; a 429 the limit (SPEC §10).
FIELD_REQUIRED = {400, 413, 429}
BASE = "http://localhost"


def scale() -> int:
    """`make fuzz` multiplies every example budget by MKT_FUZZ_SCALE; `make test` runs the bounded default."""
    return max(1, int(os.environ.get("MKT_FUZZ_SCALE", "1")))


@dataclass(frozen=True)
class Identity:
    """Who sends the generated requests and what the answers must then respect.

    `owned` are ids of the merchant whose data path parameters are drawn from (None: generated ids only);
    `forbidden` are strings that must never appear in an answer (another tenant's ids).
    """

    name: str
    authorization: str | None
    owned: Mapping[str, Sequence[str]] | None = None
    forbidden: frozenset[str] = frozenset()
    rejected: bool = False  # every secured route must answer 401/403
    role: str | None = None  # routes whose x-roles leave this role out must answer 403


@dataclass
class Finding:
    operation: str
    identity: str
    check: str
    message: str
    request: str
    status: int
    body: str
    count: int = 1

    def __str__(self) -> str:
        return (f"[{self.identity}] {self.operation}: {self.check} x{self.count}\n  {self.message}\n"
                f"  request: {self.request}\n  answer: {self.status} {self.body}")


@dataclass
class Sent:
    case: Case
    method: str
    path: str
    body: bytes
    status: int
    headers: dict[str, str]
    raw: bytes
    prepared: requests.PreparedRequest


def error_shape(status: int, raw: bytes) -> str | None:
    """What is wrong with a 4xx body, if anything: {"error": {code, message, field, reason, details}}."""
    try:
        body = json.loads(raw)
    except ValueError:
        return "4xx body is not JSON"
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return "4xx body has no error object"
    for key in ("code", "message", "reason"):
        if not isinstance(err.get(key), str) or not err[key].strip():
            return f"error.{key} missing or empty"
    if "field" not in err or "details" not in err:
        return "error.field / error.details missing"
    if status in FIELD_REQUIRED and not err.get("field"):
        return f"a {status} must name the field (or the limit)"
    return None


@dataclass
class Fuzzer:
    """Runs operations × identities × generation modes with bounded example counts."""

    api: Any
    document: dict[str, Any]
    derandomize: bool = True
    sent: Counter[str] = field(default_factory=Counter)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    findings: dict[tuple[str, str, str, str], Finding] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.schema = schemathesis.openapi.from_dict(self.document)
        self.operations = [result.ok() for result in self.schema.get_all_operations()]

    @property
    def total(self) -> int:
        return sum(self.sent.values())

    def labels(self) -> set[str]:
        return {op.label for op in self.operations}

    # -- sending --------------------------------------------------------------------------------
    def send(self, case: Case, identity: Identity) -> Sent:
        kwargs = case.as_transport_kwargs(base_url=BASE)
        headers = {k: str(v) for k, v in (kwargs.get("headers") or {}).items() if k.lower() != "authorization"}
        if identity.authorization is not None:
            headers["Authorization"] = identity.authorization
        request = requests.Request(method=kwargs["method"], url=kwargs["url"], headers=headers,
                                   params=kwargs.get("params"), data=kwargs.get("data"), json=kwargs.get("json"),
                                   files=kwargs.get("files"))
        prepared = request.prepare()
        url = urlsplit(prepared.url or "")
        path = url.path + (f"?{url.query}" if url.query else "")
        body = prepared.body or b""
        data = body.encode() if isinstance(body, str) else body
        answer = self.api.request(prepared.method or "GET", path, raw=data, headers=dict(prepared.headers))
        return Sent(case, prepared.method or "GET", path, data, answer.status, answer.headers, answer.raw, prepared)

    # -- judging --------------------------------------------------------------------------------
    def _record(self, sent: Sent, identity: Identity, check: str, message: str) -> None:
        op = sent.case.operation.label
        key = (op, identity.name, check, message.splitlines()[0][:160] if message else "")
        if key in self.findings:
            self.findings[key].count += 1
            return
        self.findings[key] = Finding(op, identity.name, check, message[:1200],
                                     f"{sent.method} {sent.path} {sent.body[:300]!r}", sent.status,
                                     sent.raw[:600].decode(errors="replace"))

    def judge(self, sent: Sent, identity: Identity) -> None:
        op = sent.case.operation
        self.sent[op.label] += 1
        self.statuses[(identity.name, sent.status)] += 1
        response = Response(sent.status, {k: [v] for k, v in sent.headers.items()}, sent.raw, sent.prepared,
                            0.0, True)
        try:
            sent.case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                self._record(sent, identity, failure.title, failure.message)
        except Failure as failure:
            self._record(sent, identity, failure.title, failure.message)
        if 400 <= sent.status < 500:
            problem = error_shape(sent.status, sent.raw)
            if problem:
                self._record(sent, identity, "error body", problem)
        secured = bool(op.definition.raw.get("security"))
        if identity.rejected and secured and sent.status not in (401, 403):
            self._record(sent, identity, "auth", f"answered {sent.status} without a valid key")
        roles = op.definition.raw.get("x-roles") or []
        if identity.role and secured and identity.role not in roles and sent.status != 403:
            self._record(sent, identity, "role", f"answered {sent.status} to role {identity.role} (allowed: {roles})")
        # An id the request itself carried may be echoed back ("no campaign X"); anything else is a leak.
        text = sent.raw.decode(errors="replace")
        asked = sent.path + sent.body.decode(errors="replace")
        leaked = sorted(s for s in identity.forbidden if s in text and s not in asked)
        if leaked:
            self._record(sent, identity, "tenant leak", f"answer holds another tenant's ids {leaked[:5]}")

    # -- running --------------------------------------------------------------------------------
    def run(self, identity: Identity, modes: Mapping[GenerationMode, int],
            only: Callable[[Any], bool] = lambda op: True) -> None:
        """Up to `n` generated cases per operation and mode; path ids come from `identity.owned` half the time."""
        for op in self.operations:
            if not only(op):
                continue
            for mode, n in modes.items():
                self._run_one(op, identity, mode, n * scale())

    def _run_one(self, op: Any, identity: Identity, mode: GenerationMode, n: int) -> None:
        owned = identity.owned or {}
        params = [p for p in owned if f"{{{p}}}" in op.path]

        @given(case=op.as_strategy(generation_mode=mode), pick=st.integers(0, 2**16))
        @settings(max_examples=n, database=None, deadline=None, derandomize=self.derandomize,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def exercise(case: Case, pick: int) -> None:
            # Positive cases hit real objects half the time; generated ids alone only reach the 404 branch.
            if params and mode is GenerationMode.POSITIVE and (identity.forbidden or pick % 2 == 0):
                rng = random.Random(pick)
                for p in params:
                    case.path_parameters[p] = rng.choice(list(owned[p]))
            self.judge(self.send(case, identity), identity)

        with contextlib.suppress(Unsatisfiable):  # an operation without parameters has no negative form
            exercise()


def report(fuzzer: Fuzzer) -> str:
    lines = [f"{fuzzer.total} requests; statuses {sorted(fuzzer.statuses.items())}"]
    lines += [str(f) for f in fuzzer.findings.values()]
    return "\n".join(lines)
