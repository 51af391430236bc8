"""Regressions for defects fault injection found: each failed (lost work, 500, a stuck run) before its fix."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from pynamodb.exceptions import GetError

from chalicelib import wiring
from chalicelib.core.dynamo import commit
from chalicelib.core.transient import is_transient
from chalicelib.dispatch.model import Chunk, Recipient
from chalicelib.dispatch.store import LeaseRefused, RunStore
from chalicelib.dispatch.tick import TickService
from infra.local.runtime import DrainStats
from tests.support.dispatch import set_watermark, webhook_configured

T = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def _throttled(operation: str = "PutItem") -> ClientError:
    return ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"},
                        "ResponseMetadata": {"HTTPStatusCode": 400}}, operation)


def _campaign(api: Any, merchant: Any) -> str:
    webhook_configured(api, merchant.token)
    assert api.post("/v1/customers/batch", {"items": [{"customer_id": "c1"}]}, token=merchant.token).status == 200
    r = api.post("/v1/campaigns", {"name": "x", "target": {"kind": "customers", "customer_ids": ["c1"]},
                                   "action": {"channel": "webhook"}, "schedule": {"kind": "once", "at": None}},
                 token=merchant.token)
    assert r.status == 201, r
    return str(r.json["campaign_id"])


def test_retried_activation_schedules_the_send_when_the_first_attempt_failed_after_the_status_moved(
        api: Any, merchant: Any, clock: Any, monkeypatch: Any) -> None:
    """The status moved, then writing the first due item was throttled: a 503, and the merchant's retry found the
    campaign running (409) with nothing scheduled, for ever."""
    cid = _campaign(api, merchant)
    lifecycle = type(wiring.dispatch_lifecycle())
    original = lifecycle.on_activated
    calls: list[str] = []

    def throttled_once(self: Any, campaign: Any) -> Any:
        calls.append(campaign.id)
        if len(calls) == 1:
            raise _throttled()
        return original(self, campaign)

    monkeypatch.setattr(lifecycle, "on_activated", throttled_once)
    first = api.post(f"/v1/campaigns/{cid}/activate", token=merchant.token)
    assert first.status == 503 and first.json["error"]["code"] == "unavailable" and first.headers["retry-after"]
    assert wiring.due_store().of_campaign(merchant.id, cid) == []
    again = api.post(f"/v1/campaigns/{cid}/activate", token=merchant.token)
    assert again.status == 409 and api.get(f"/v1/campaigns/{cid}", token=merchant.token).json["status"] == "running"
    assert [i.kind.value for i in wiring.due_store().of_campaign(merchant.id, cid)] == ["occurrence"]
    assert api.post(f"/v1/campaigns/{cid}/activate", token=merchant.token).status == 409
    assert len(wiring.due_store().of_campaign(merchant.id, cid)) == 1  # healing again writes nothing twice


def test_throttled_dynamodb_is_a_503_not_a_500_when_a_view_or_the_authorizer_meets_it(
        api: Any, merchant: Any, monkeypatch: Any) -> None:
    service = type(wiring.tenancy_service())
    original = service.settings
    monkeypatch.setattr(service, "settings", lambda self, m: (_ for _ in ()).throw(GetError("x", _throttled())))
    r = api.get("/v1/settings", token=merchant.token)
    assert r.status == 503 and r.headers["retry-after"] == "1" and r.json["error"]["code"] == "unavailable"
    monkeypatch.setattr(service, "settings", original)
    from chalicelib.core import apikeys  # the authorizer's own key lookup (its Lambda has no wiring)

    monkeypatch.setattr(apikeys, "lookup", lambda merchant, key: (_ for _ in ()).throw(_throttled("GetItem")))
    r = api.get("/v1/settings", token=merchant.token)
    assert r.status == 503 and r.json["error"]["field"] == "header.Authorization"
    monkeypatch.undo()
    monkeypatch.setattr(service, "settings", lambda self, m: (_ for _ in ()).throw(ValueError("a bug")))
    assert api.get("/v1/settings", token=merchant.token).status == 500  # a bug stays a 500: nothing is masked


def test_only_throttling_server_errors_and_timeouts_are_transient_when_classified() -> None:
    cancelled = {"Error": {"Code": "TransactionCanceledException"}, "ResponseMetadata": {"HTTPStatusCode": 400}}
    assert is_transient(_throttled()) and is_transient(GetError("x", _throttled()))
    assert is_transient(ReadTimeoutError(endpoint_url="http://x"))
    assert is_transient(ClientError({"Error": {"Code": "InternalServerError"},
                                     "ResponseMetadata": {"HTTPStatusCode": 500}}, "Query"))
    assert is_transient(ClientError({**cancelled, "CancellationReasons": [{"Code": "None"},
                                                                        {"Code": "ThrottlingError"}]}, "Tx"))
    assert not is_transient(ClientError({**cancelled, "CancellationReasons": [{"Code": "ConditionalCheckFailed"}]},
                                        "Tx"))
    assert not is_transient(ClientError({"Error": {"Code": "ValidationException"},
                                         "ResponseMetadata": {"HTTPStatusCode": 400}}, "Query"))
    assert not is_transient(ValueError("a bug"))


def test_lease_is_kept_when_botocore_retries_a_lease_whose_answer_was_lost(merchant: Any) -> None:
    """The lease update was applied and its answer lost; botocore's retry found the chunk held (by us) and the
    worker gave up with "leased by a live worker" — every receive, until the lease ran out."""
    runs = RunStore()
    chunk = Chunk(merchant.id, f"run_{uuid.uuid4().hex[:8]}", "0000000", [Recipient("c1")], campaign_id="cmp_x")
    commit([runs.put_chunk_op(chunk, T)])
    held = runs.lease(merchant.id, chunk.run_id, chunk.chunk_id, "w_me", T, 1, 300)
    again = runs.lease(merchant.id, chunk.run_id, chunk.chunk_id, "w_me", T, 1, 300)
    assert held.owner == again.owner == "w_me"
    with pytest.raises(LeaseRefused) as refused:
        runs.lease(merchant.id, chunk.run_id, chunk.chunk_id, "w_other", T, 2, 300)
    assert refused.value.why == "leased"


class _FailingAt:
    """The due store, except that reading one bucket is throttled."""

    def __init__(self, bucket: datetime) -> None:
        self._due = wiring.due_store()
        self._bucket = bucket

    def in_bucket(self, minute: datetime) -> Any:
        if minute == self._bucket:
            raise GetError("throttled", _throttled("Query"))
        return self._due.in_bucket(minute)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._due, name)


def test_tick_keeps_its_progress_when_a_later_bucket_fails(aws: None) -> None:
    """Only a whole tick advanced the watermark: after failures the catch-up grew until no tick could finish."""
    set_watermark(T - timedelta(minutes=9))  # watermark T-10
    tick = TickService(_FailingAt(T - timedelta(minutes=3)), wiring.run_store(), commit, wiring.queues(),  # type: ignore[arg-type]
                       wiring.repo("CAMPAIGN"), wiring.cached_timezone_of)
    with pytest.raises(GetError):
        tick.tick(T)
    assert wiring.due_store().watermark() == T - timedelta(minutes=4)


def test_work_written_behind_the_watermark_is_found_when_ticks_stopped_for_ten_minutes(
        api: Any, merchant: Any, clock: Any, runtime: Any) -> None:
    """A due time already past lands in the writer's minute; if that minute was read already, only the re-read
    window finds it — and it trailed the clock, so a tick outage longer than 5 minutes stranded the send."""
    cid = _campaign(api, merchant)
    clock.set(T + timedelta(seconds=30))
    assert api.post(f"/v1/campaigns/{cid}/activate", token=merchant.token).status == 200
    set_watermark(T + timedelta(minutes=1))  # the tick of minute T had run before the activation
    runtime.set_time(T + timedelta(minutes=10))
    assert runtime.tick(T + timedelta(minutes=10)).get("occurrences") == 1


def test_stream_function_error_sets_aside_only_the_poison_record_when_the_batch_is_bisected(runtime: Any) -> None:
    """A handler error blamed the batch's first record: under repeated failures every record was set aside."""
    seen: list[int] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        numbers = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
        if "5" in numbers:
            raise RuntimeError("poison")
        seen.extend(int(n) for n in numbers)
        return {"batchItemFailures": []}

    runtime.app = SimpleNamespace(activity_stream=handler)
    records = [{"dynamodb": {"SequenceNumber": str(n)}} for n in range(1, 9)]
    stats = DrainStats()
    assert runtime._invoke_stream(records, stats) == 7
    assert sorted(seen) == [1, 2, 3, 4, 6, 7, 8] and seen == sorted(seen)  # order kept
    assert [r["dynamodb"]["SequenceNumber"] for r in runtime.stream_dead_letters] == ["5"]
    assert stats.stream_failures == 1 and stats.stream_retries >= 4
