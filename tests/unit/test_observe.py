"""Batch handlers report partial failures, log the failed record and emit EMF metrics per handler."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import EventType

from chalicelib.core.batch import run_batch


def _sqs_event(bodies: list[str]) -> dict[str, Any]:
    return {"Records": [{"messageId": f"m{i}", "receiptHandle": f"r{i}", "body": body, "attributes": {},
                         "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                         "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"}
                        for i, body in enumerate(bodies)]}


def _handler(record: Any) -> None:
    if record.body == "poison":
        raise ValueError("cannot parse")


def test_only_the_failed_record_is_returned_and_metrics_count_both_when_one_of_three_fails(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    result = run_batch(_sqs_event(["ok", "poison", "ok"]), None, _handler, EventType.SQS, "dispatch_worker")
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    emf = [doc for doc in lines if "_aws" in doc]
    assert len(emf) == 1
    assert emf[0]["handler"] == "dispatch_worker"
    assert (emf[0]["Records"], emf[0]["FailedRecords"]) == ([3.0], [1.0])
    warnings = [r for r in caplog.records if r.levelname == "WARNING" and r.exc_info]
    assert len(warnings) == 1 and "cannot parse" in str(warnings[0].exc_info[1])  # type: ignore[index]


def test_no_metrics_are_printed_when_disabled_locally(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    assert run_batch(_sqs_event(["ok"]), None, _handler, EventType.SQS, "plan_worker") == {"batchItemFailures": []}
    assert "_aws" not in capsys.readouterr().out
