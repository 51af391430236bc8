"""Fault injection at the botocore level: a seeded share of DynamoDB and SQS calls throttle, fail or time out.

Every botocore client created while the injector is installed (boto3's and PynamoDB's) gets a `before-send`
hook, first in line (moto's in-process stub answers in before-send too). On the first attempt of a call the
seeded generator decides whether the call is faulted, how (throttle, 500, connect timeout, or a read timeout
after the server applied the request: the response is lost), and whether the fault is *sticky* (every attempt
fails, so botocore's retries give up and the error surfaces to our code) or transient (only the first one or
two attempts fail, so botocore's own retries absorb it). Nothing in chalicelib is changed or aware of it.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import botocore.client
import botocore.endpoint
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError
from botocore.hooks import first_non_none_response

THROTTLE = "throttle"
INTERNAL = "internal"
CONNECT_TIMEOUT = "connect_timeout"
LOST_RESPONSE = "lost_response"  # the server applied the request, the client saw a read timeout
KINDS: tuple[str, ...] = (THROTTLE, INTERNAL, CONNECT_TIMEOUT, LOST_RESPONSE)
NOWHERE = "http://fault-injected.invalid/"

# What Lambda's event source mapping does on AWS (receive, delete, visibility) is not our code's call:
# the local runtime plays that part, so those operations are left alone.
EVENT_SOURCE_OPERATIONS = frozenset({"ReceiveMessage", "DeleteMessage", "DeleteMessageBatch",
                                     "ChangeMessageVisibility", "ChangeMessageVisibilityBatch"})

_ERRORS: dict[tuple[str, str], tuple[int, str, str]] = {
    ("dynamodb", THROTTLE): (400, "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                             "The level of configured provisioned throughput for the table was exceeded."),
    ("dynamodb", INTERNAL): (500, "com.amazonaws.dynamodb.v20120810#InternalServerError",
                             "Internal server error"),
    ("sqs", THROTTLE): (400, "com.amazonaws.sqs#ThrottlingException", "Rate exceeded"),
    ("sqs", INTERNAL): (500, "com.amazonaws.sqs#InternalError", "We encountered an internal error."),
}


@dataclass(frozen=True)
class FaultPlan:
    """How many calls fail and how: `rate` of the calls, of which `sticky` fail on every attempt."""

    rate: float = 0.2
    seed: int = 7
    sticky: float = 0.25
    kinds: tuple[str, ...] = KINDS
    services: frozenset[str] = frozenset({"dynamodb", "sqs"})


@dataclass
class FaultStats:
    """What the injector saw and did; `retries` are botocore's own re-sends of a call."""

    calls: Counter[str] = field(default_factory=Counter)  # by service
    attempts: int = 0
    retries: int = 0
    faulted: Counter[str] = field(default_factory=Counter)  # calls, by kind
    injected: Counter[str] = field(default_factory=Counter)  # failed attempts, by kind
    sticky: int = 0
    surfaced: Counter[str] = field(default_factory=Counter)  # calls whose last attempt failed, by operation
    backoff_seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        calls = sum(self.calls.values())
        return {"calls": calls, "attempts": self.attempts, "retries": self.retries,
                "faulted_calls": sum(self.faulted.values()), "faulted_share": round(
                    sum(self.faulted.values()) / calls, 3) if calls else 0.0,
                "by_kind": dict(sorted(self.faulted.items())), "failed_attempts": sum(self.injected.values()),
                "sticky": self.sticky, "surfaced": sum(self.surfaced.values()),
                "backoff_seconds": round(self.backoff_seconds, 1)}


@dataclass
class _Decision:
    kind: str
    failing_attempts: int  # attempts 1..n fail; a sticky fault has a number no retry policy reaches
    last_failed: bool = False


class _Raw:
    """The `raw` of an AWSResponse: something with stream()."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


class _VirtualSleep:
    """botocore.endpoint's `time`, with retry back-off counted instead of slept (the run stays short)."""

    def __init__(self, stats: FaultStats) -> None:
        self._stats = stats

    def sleep(self, seconds: float) -> None:
        self._stats.backoff_seconds += seconds

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def _header(request: Any, name: str) -> str:
    value = request.headers.get(name, "")
    return value.decode() if isinstance(value, bytes) else str(value)


def _attempt(request: Any) -> int:
    for part in _header(request, "amz-sdk-request").split(";"):
        key, _, value = part.strip().partition("=")
        if key == "attempt" and value.isdigit():
            return int(value)
    return 1


def _client_token(operation: str, request: Any) -> str | None:
    if operation != "TransactWriteItems" or not request.body:
        return None
    body = request.body if isinstance(request.body, bytes | str) else b""
    token = json.loads(body).get("ClientRequestToken") if body else None
    return str(token) if token else None


def _ok(request: Any) -> AWSResponse:
    return AWSResponse(request.url, 200, {"Content-Type": "application/x-amz-json-1.0",
                                          "x-amzn-RequestId": "idempotent-replay"}, _Raw(b"{}"))


class FaultInjector:
    """Install before the clients are built (or call `wiring.reset()` and `reset_pynamodb()` after)."""

    def __init__(self, plan: FaultPlan, *, virtual_backoff: bool = True) -> None:
        self.plan = plan
        self.stats = FaultStats()
        self.active = False
        self._rng = random.Random(plan.seed)
        self._lock = threading.Lock()
        self._decisions: dict[str, _Decision] = {}
        self._local = threading.local()
        self._virtual_backoff = virtual_backoff
        self._original_create: Any = None
        self._original_time: Any = None
        # botocore puts the same ClientRequestToken on every attempt of a TransactWriteItems, and DynamoDB answers
        # a retry of an applied one with success; moto ignores the token, so the tokens whose commit was applied
        # (and its answer dropped here) are answered as DynamoDB would answer their retry.
        self._applied_tokens: set[str] = set()

    # -- installation ---------------------------------------------------------------------------
    def install(self) -> FaultInjector:
        original = botocore.client.ClientCreator.create_client
        injector = self

        def create_client(creator: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(creator, *args, **kwargs)
            injector.attach(client)
            return client

        self._original_create = original
        botocore.client.ClientCreator.create_client = create_client
        if self._virtual_backoff:
            self._original_time = botocore.endpoint.time
            botocore.endpoint.time = _VirtualSleep(self.stats)
        self.active = True
        return self

    def uninstall(self) -> None:
        self.active = False
        if self._original_create is not None:
            botocore.client.ClientCreator.create_client = self._original_create
            self._original_create = None
        if self._original_time is not None:
            botocore.endpoint.time = self._original_time
            self._original_time = None

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No faults inside (setting up, or checking the result); calls are not counted either."""
        was, self.active = self.active, False
        try:
            yield
        finally:
            self.active = was

    def attach(self, client: Any) -> None:
        """Hook one client (clients built before install() do not have it)."""
        service = client.meta.service_model.service_id.hyphenize()
        if service not in self.plan.services:
            return
        events = client.meta.events

        def before_send(request: Any, event_name: str = "", **_: Any) -> Any:
            return self._before_send(client, event_name, request)

        def after_call(context: Any = None, event_name: str = "", **_: Any) -> None:
            self._after_call(event_name, context)

        events.register_first(f"before-send.{service}", before_send)
        events.register(f"after-call.{service}", after_call)
        events.register(f"after-call-error.{service}", after_call)

    # -- the hooks ------------------------------------------------------------------------------
    def _decide(self, invocation: str, attempt: int) -> _Decision | None:
        with self._lock:
            if attempt == 1:
                if self._rng.random() >= self.plan.rate:
                    return None
                kind = self._rng.choice(self.plan.kinds)
                sticky = self._rng.random() < self.plan.sticky
                decision = _Decision(kind, 10**6 if sticky else self._rng.randint(1, 2))
                self._decisions[invocation] = decision
                self.stats.faulted[kind] += 1
                self.stats.sticky += sticky
                return decision
            return self._decisions.get(invocation)

    def _before_send(self, client: Any, event_name: str, request: Any) -> Any:
        if not self.active or getattr(self._local, "passthrough", False):
            return None
        _, service, operation = [*event_name.split("."), "", ""][:3]
        if operation in EVENT_SOURCE_OPERATIONS:
            return None
        attempt = _attempt(request)
        invocation = _header(request, "amz-sdk-invocation-id")
        with self._lock:
            self.stats.attempts += 1
            if attempt == 1:
                self.stats.calls[service] += 1
            else:
                self.stats.retries += 1
        token = _client_token(operation, request)
        if token is not None and token in self._applied_tokens:
            replayed = self._decisions.get(invocation)
            if replayed is not None:
                replayed.last_failed = False
            return _ok(request)  # DynamoDB answers a repeated ClientRequestToken with success, changing nothing
        decision = self._decide(invocation, attempt)
        if decision is None:
            return None
        failing = attempt <= decision.failing_attempts
        decision.last_failed = failing
        if not failing:
            return None
        with self._lock:
            self.stats.injected[decision.kind] += 1
        if decision.kind == CONNECT_TIMEOUT:
            raise ConnectTimeoutError(endpoint_url=request.url)
        if decision.kind == LOST_RESPONSE:
            status = self._send_for_real(client, event_name, request)
            if token is not None and status == 200:
                self._applied_tokens.add(token)
            raise ReadTimeoutError(endpoint_url=request.url)
        status, code, message = _ERRORS[(service, decision.kind)]
        body = json.dumps({"__type": code, "message": message}).encode()
        answer = AWSResponse(request.url, status, {"Content-Type": "application/x-amz-json-1.0",
                                                   "x-amzn-RequestId": "fault-injected"}, _Raw(body))
        # botocore calls every before-send handler even after one answered: moto's in-process stub would still
        # apply the request. Point this attempt's request nowhere so the stub finds no service to run it.
        request.url = NOWHERE
        return answer

    def _send_for_real(self, client: Any, event_name: str, request: Any) -> int:
        """Let the request reach the server (moto's stub or HTTP); its answer is dropped, its status returned."""
        self._local.passthrough = True
        try:
            answer = first_non_none_response(client.meta.events.emit(event_name, request=request))
            if answer is None:
                answer = client._endpoint.http_session.send(request)
            return int(answer.status_code)
        finally:
            self._local.passthrough = False

    def _after_call(self, event_name: str, context: Any) -> None:
        if not context:
            return
        invocation = (context.get("retries") or {}).get("invocation-id")
        with self._lock:
            decision = self._decisions.pop(invocation, None) if invocation else None
            if decision is not None and decision.last_failed:
                self.stats.surfaced[event_name.split(".")[-1]] += 1


def reset_pynamodb() -> None:
    """PynamoDB models keep their connection (and client) per class: drop them so new ones get hooked."""
    from pynamodb.models import Model

    pending: list[type[Any]] = [Model]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "_connection" in cls.__dict__:
            cls._connection = None
