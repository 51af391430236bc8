"""The dispatch queues' messages: what the one send helper per queue writes is what the consumers parse."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.dispatch.adapters import SqsQueues
from chalicelib.dispatch.messages import ChunkMessage, PlanMessage, chunk_messages, plan_messages


class FakeSqs:
    def __init__(self) -> None:
        self.sent: dict[str, list[str]] = {}

    def get_queue_url(self, QueueName: str) -> dict[str, str]:
        return {"QueueUrl": QueueName}

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.sent.setdefault(QueueUrl, []).extend(e["MessageBody"] for e in Entries)
        return {}


def test_each_queue_gets_its_own_messages_and_the_consumer_parses_them_back():
    sqs = FakeSqs()
    queues = SqsQueues(sqs)
    plans = plan_messages("m1", "run_1", 16)
    chunks = chunk_messages("m1", "run_1", [f"00{n:05d}" for n in range(12)])
    queues.send_plans(plans)
    queues.send_chunks(chunks)
    assert sorted(sqs.sent) == ["test-dispatch", "test-plan"]
    assert [PlanMessage.model_validate_json(b) for b in sqs.sent["test-plan"]] == plans
    assert [ChunkMessage.model_validate_json(b) for b in sqs.sent["test-dispatch"]] == chunks
    assert json.loads(sqs.sent["test-dispatch"][0]) == {"v": 1, "merchant_id": "m1", "run_id": "run_1",
                                                        "chunk_id": "0000000"}


def test_a_consumer_refuses_a_message_when_its_version_or_segment_is_unknown():
    with pytest.raises(ValidationError):
        ChunkMessage.model_validate_json('{"v": 2, "merchant_id": "m", "run_id": "r", "chunk_id": "c"}')
    with pytest.raises(ValidationError):
        PlanMessage.model_validate_json('{"v": 1, "merchant_id": "m", "run_id": "r", "segment": 256}')
