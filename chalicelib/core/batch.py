"""Partial batch failures through Powertools: one failing record never re-runs its neighbours."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response


def run_batch(event: dict[str, Any], context: Any, handler: Callable[[Any], Any], kind: EventType) -> dict[str, Any]:
    """Run `handler` per record; the result lists only the failed records for the event source to retry."""
    processor = BatchProcessor(event_type=kind, raise_on_entire_batch_failure=False)
    result = process_partial_response(event=event, record_handler=handler, processor=processor, context=context)
    return dict(result)
