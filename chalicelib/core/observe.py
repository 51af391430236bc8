"""Structured logs and CloudWatch metrics (embedded metric format) for the event handlers, via Powertools."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from chalicelib.core.config import get_config

SERVICE = get_config().service  # the template sets <prefix>-<stage>: two stages' metrics stay apart

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="PrecisionMarketing", service=SERVICE)


def record_batch(handler: str, records: int, failures: int) -> None:
    """One EMF document per batch: records seen and records handed back for retry, by handler."""
    if is_metrics_disabled():
        return  # a disabled flush keeps the values, which would pile up in a long local run
    metrics.add_dimension(name="handler", value=handler)
    metrics.add_metric(name="Records", unit=MetricUnit.Count, value=records)
    metrics.add_metric(name="FailedRecords", unit=MetricUnit.Count, value=failures)
    metrics.flush_metrics()  # flushing clears dimensions too, so the next handler starts clean
