"""Which AWS calls each Lambda's code makes, checked against the IAM policy the template gives its role.

install() wraps the handlers' entry points and botocore's one call path (boto3 and PynamoDB both go through it),
so every call made while a handler runs is recorded as (function, IAM action, logical resource). violations()
compares them with infra/stack/access.py: the policy is derived from those declarations, so a call missing there
is an AccessDenied on AWS.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

CURRENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("lambda_function", default=None)
Call = tuple[str, str, str]  # (function, "service:Action", logical resource)
TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                    "ConditionCheck": "ConditionCheckItem"}
CONSUMER_ACTIONS = {"ReceiveMessage", "DeleteMessage", "DeleteMessageBatch", "ChangeMessageVisibility",
                    "ChangeMessageVisibilityBatch", "GetQueueAttributes"}


class Audit:
    """The calls recorded since install()."""

    def __init__(self) -> None:
        self.calls: set[Call] = set()

    @contextmanager
    def running(self, function: str) -> Iterator[None]:
        token = CURRENT.set(function)
        try:
            yield
        finally:
            CURRENT.reset(token)

    def _record(self, service: str, operation: str, params: dict[str, Any]) -> None:
        function = CURRENT.get()
        if function is None:
            return
        for action, resource in _actions(service, operation, params):
            self.calls.add((function, action, resource))


def _table(physical: str) -> str:
    from chalicelib.core.config import get_config
    from chalicelib.core.resources import TABLES

    cfg = get_config()
    return next((t.name for t in TABLES if cfg.table(t.name) == physical), f"?{physical}")


def _queue(url_or_name: str) -> str:
    from chalicelib.core.config import get_config
    from chalicelib.core.resources import QUEUES

    cfg = get_config()
    name = url_or_name.rsplit("/", 1)[-1]
    return next((q.name for q in QUEUES if cfg.queue(q.name) == name), f"?{name}")


def _actions(service: str, operation: str, params: dict[str, Any]) -> Iterator[tuple[str, str]]:
    if service == "dynamodb":
        if operation == "TransactWriteItems":
            for item in params["TransactItems"]:
                ((kind, body),) = item.items()
                yield f"dynamodb:{TRANSACT_ACTIONS[kind]}", _table(body["TableName"])
        elif operation == "TransactGetItems":
            for item in params["TransactItems"]:
                yield "dynamodb:GetItem", _table(item["Get"]["TableName"])
        elif operation in ("BatchWriteItem", "BatchGetItem"):
            for table in params["RequestItems"]:
                yield f"dynamodb:{operation}", _table(table)
        else:
            index = f"/index/{params['IndexName']}" if "IndexName" in params else ""
            yield f"dynamodb:{operation}", _table(params.get("TableName", "")) + index
    elif service == "sqs":
        action = "SendMessage" if operation == "SendMessageBatch" else operation
        yield f"sqs:{action}", _queue(params.get("QueueUrl") or params.get("QueueName", ""))
    elif service == "s3":
        yield f"s3:{operation}", params.get("Bucket", "")
    elif service == "email":
        yield f"ses:{operation}", ""
    else:
        yield f"{service}:{operation}", ""


def install(audit: Audit) -> None:
    """Record every botocore call, attributed to the handler running it; the handlers are wrapped here too."""
    import botocore.client
    import chalice.app

    from chalicelib.activity import handlers as activity
    from chalicelib.core import apikeys
    from chalicelib.dispatch import handlers as dispatch

    call = botocore.client.BaseClient._make_api_call

    def recorded(self: Any, operation: str, params: dict[str, Any]) -> Any:
        audit._record(self.meta.service_model.endpoint_prefix, operation, params)
        return call(self, operation, params)

    botocore.client.BaseClient._make_api_call = recorded  # type: ignore[method-assign]

    def wrap(owner: Any, attribute: str, function: str) -> None:
        original: Callable[..., Any] = getattr(owner, attribute)

        @functools.wraps(original)
        def running(*args: Any, **kwargs: Any) -> Any:
            with audit.running(function):
                return original(*args, **kwargs)

        setattr(owner, attribute, running)

    wrap(dispatch, "on_tick", "tick")
    wrap(dispatch, "on_plan_message", "plan_worker")
    wrap(dispatch, "on_dispatch_message", "dispatch_worker")
    wrap(activity, "on_activity_stream", "activity_stream")
    wrap(apikeys, "authenticate", "api_key_authorizer")
    wrap(chalice.app.Chalice, "__call__", "api_handler")


def allowed(call: Call, strict_urls: bool = True) -> bool:
    """Whether the role's policy (infra/stack/access.py) allows the call."""
    from infra.stack.access import ACCESS

    function, action, resource = call
    access = ACCESS[function]
    service, _, verb = action.partition(":")
    if service == "dynamodb":
        table, _, index = resource.partition("/index/")
        if index:
            return verb == "Query" and index in access.indexes.get(table, ())
        return verb in access.tables.get(table, ())
    if service == "sqs":
        if verb == "GetQueueUrl":  # the template gives every URL; only the local stack looks them up
            return not strict_urls and resource in (*access.sends, *access.consumes)
        if verb == "SendMessage":
            return resource in access.sends
        return verb in CONSUMER_ACTIONS and resource in access.consumes
    if service == "s3":
        return access.exports and verb in ("PutObject", "GetObject")
    if service in ("ses", "sns"):
        return access.messages and verb in ("SendEmail", "SendRawEmail", "Publish")
    return False


def violations(calls: set[Call], strict_urls: bool = True) -> list[Call]:
    return sorted(c for c in calls if not allowed(c, strict_urls))
