"""Partial batch failures through Powertools: one failing record never re-runs its neighbours."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from chalicelib.core.observe import logger, record_batch


def run_batch(event: dict[str, Any], context: Any, handler: Callable[[Any], Any], kind: EventType,
              name: str = "batch") -> dict[str, Any]:
    """Run `handler` per record; the result lists only the failed records for the event source to retry."""
    # With our Logger (typed as the logging.Logger it wraps), Powertools logs each failed record's traceback as a
    # structured warning.
    processor = BatchProcessor(event_type=kind, raise_on_entire_batch_failure=False,
                               logger=cast(logging.Logger, logger))
    result = process_partial_response(event=event, record_handler=handler, processor=processor, context=context)
    records = len(event.get("Records") or ())
    failures = len(result.get("batchItemFailures") or ())
    logger.debug("batch done", extra={"handler": name, "records": records, "failures": failures})
    record_batch(name, records, failures)
    return dict(result)
