"""Entry point of the activity table's DynamoDB stream consumer."""

from __future__ import annotations

from typing import Any

from chalicelib import wiring


def on_activity_stream(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return wiring.activity_consumer().handle(event, context)
