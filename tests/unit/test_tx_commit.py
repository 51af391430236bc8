"""commit(): a transaction cancelled only by TransactionConflict is sent again; condition failures are named."""

from __future__ import annotations

from typing import Any

import pytest
from pynamodb.exceptions import CancellationReason, TransactWriteError, VerboseClientError

from chalicelib.core import dynamo
from chalicelib.core.tx import TxCancelled, TxOp


def _cancelled(*codes: str) -> TransactWriteError:
    """What PynamoDB raises for a cancelled TransactWriteItems (reasons in item order; None = not a reason)."""
    cause = VerboseClientError({"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}},
                               "TransactWriteItems",
                               cancellation_reasons=[None if c == "None" else CancellationReason(code=c)
                                                     for c in codes])
    return TransactWriteError("cancelled", cause=cause)


def _writer(failures: list[TransactWriteError], calls: list[int]) -> Any:
    def write(ordered: Any) -> None:
        calls.append(len(ordered))
        if failures:
            raise failures.pop(0)
    return write


def _ops() -> list[TxOp]:
    return [TxOp("check", object(), "campaign:c"), TxOp("update", object(), "policy:*coupons")]


def test_commit_resends_the_transaction_when_it_was_cancelled_only_by_a_conflict(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(dynamo, "_write", _writer([_cancelled("None", "TransactionConflict")] * 2, calls))
    monkeypatch.setattr(dynamo.time, "sleep", lambda s: None)
    dynamo.commit(_ops())
    assert calls == [2, 2, 2]


def test_commit_raises_for_the_callers_retry_when_the_conflict_persists(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(dynamo, "_write", _writer([_cancelled("TransactionConflict")] * 10, calls))
    monkeypatch.setattr(dynamo.time, "sleep", lambda s: None)
    with pytest.raises(TransactWriteError):
        dynamo.commit(_ops())
    assert len(calls) == dynamo.CONFLICT_RETRIES + 1


def test_commit_names_the_failed_conditions_when_a_condition_did_not_hold(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(dynamo, "_write", _writer([_cancelled("None", "ConditionalCheckFailed")], calls))
    with pytest.raises(TxCancelled) as raised:
        dynamo.commit(_ops())
    assert raised.value.failed == ["policy:*coupons"] and calls == [2]
