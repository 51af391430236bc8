"""Event-handler entry points of the dispatch pipeline: tick, plan and dispatch messages."""

from __future__ import annotations

import uuid
from typing import Any

from aws_lambda_powertools.utilities.batch import EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib import wiring
from chalicelib.core.batch import run_batch
from chalicelib.core.clock import parse_iso
from chalicelib.core.resources import queue_spec
from chalicelib.dispatch.messages import ChunkMessage, PlanMessage


def on_tick(event: dict[str, Any]) -> dict[str, Any]:
    """EventBridge every minute; the event's `time` is "now", so a late or replayed tick acts for its minute."""
    now = parse_iso(event["time"]) if event.get("time") else wiring.now()
    result: dict[str, Any] = wiring.tick_service().tick(now)
    return result


def _plan_record(record: SQSRecord, context: Any = None) -> None:
    msg = PlanMessage.model_validate_json(record.body)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    wiring.plan_service().plan_segment(msg.merchant_id, msg.run_id, msg.segment, wiring.now(),
                                       remaining if callable(remaining) else (lambda: 900_000))


def _dispatch_record(record: SQSRecord) -> None:
    msg = ChunkMessage.model_validate_json(record.body)
    receives = int(record.attributes.approximate_receive_count or 1)
    wiring.deliver_service().deliver_chunk(msg.merchant_id, msg.run_id, msg.chunk_id, f"w_{uuid.uuid4().hex[:12]}",
                                           receives, wiring.now())


def _retry_failed_later(queue: str, event: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """Failed records come back after the queue's retry delay, not after its long visibility timeout."""
    failed = {f["itemIdentifier"] for f in result.get("batchItemFailures") or ()}
    handles = [r["receiptHandle"] for r in event.get("Records") or () if r.get("messageId") in failed]
    if handles:
        wiring.queues().retry_later(queue, handles, queue_spec(queue).retry_delay)
    return result


def on_plan_message(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A segment close to the Lambda's time limit re-enqueues itself and resumes from its cursor."""
    result = run_batch(event, context, lambda record: _plan_record(record, context), EventType.SQS, "plan_worker")
    return _retry_failed_later("plan", event, result)


def on_dispatch_message(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _retry_failed_later("dispatch", event, run_batch(event, context, _dispatch_record, EventType.SQS,
                                                            "dispatch_worker"))
