"""Event-handler entry points of the dispatch pipeline: tick, plan and dispatch messages."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.core.batch import run_batch


def on_tick(event: dict[str, Any]) -> dict[str, Any]:
    """EventBridge every minute; `time` of the event is "now" (filled in by the dispatch issue)."""
    return {"time": event.get("time"), "claimed": 0}


def _plan_record(record: SQSRecord) -> None:
    """One plan message (filled in by the dispatch issue)."""


def _dispatch_record(record: SQSRecord) -> None:
    """One recipient chunk (filled in by the dispatch issue)."""


def on_plan_message(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_batch(event, context, _plan_record, EventType.SQS)


def on_dispatch_message(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_batch(event, context, _dispatch_record, EventType.SQS)
