"""Entry point of the activity table's DynamoDB stream consumer."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import EventType
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from chalicelib.core.batch import run_batch


def _activity_record(record: DynamoDBRecord) -> None:
    """One stream record (filled in by the audiences issue)."""


def on_activity_stream(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_batch(event, context, _activity_record, EventType.DynamoDBStreams)
