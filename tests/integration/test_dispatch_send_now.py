"""Send-now is one send however often it is retried with its Idempotency-Key (lost answers, failed hooks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.dispatch.lifecycle import DispatchLifecycle
from tests.support.dispatch import (
    campaign_body,
    make_coupon,
    relax_guardrails,
    runs_of,
    seed_customers,
    start_campaign,
    wallet_counts,
)

NOW = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)  # noon in Shanghai
WEEKLY = {"kind": "recurring", "frequency": "weekly", "time": "10:00", "weekdays": [1]}


def _send_now(api: Any, merchant: Any, cid: str, key: str | None) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return api.post(f"/v1/campaigns/{cid}/send-now", None, token=merchant.token, headers=headers)


def _deliver(runtime: Any, at: datetime) -> None:
    runtime.tick(at)
    runtime.drain()


def test_a_retried_send_now_sends_once_after_its_hook_failed_and_after_its_answer_was_lost(
        api, merchant, clock, runtime, monkeypatch):
    ids = [f"s{i}" for i in range(6)]
    relax_guardrails(api, merchant.token)
    seed_customers(api, merchant, ids)
    coupon = make_coupon(api, merchant)
    clock.set(NOW)
    runtime.set_time(NOW)
    cid = start_campaign(api, merchant, campaign_body(coupon, {"kind": "customers", "customer_ids": ids}, WEEKLY))

    original = DispatchLifecycle.on_send_now
    failures = {"left": 1}

    def flaky(self: DispatchLifecycle, campaign: Any) -> datetime:
        if failures["left"]:
            failures["left"] -= 1
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "PutItem")
        return original(self, campaign)

    monkeypatch.setattr(DispatchLifecycle, "on_send_now", flaky)
    failed = _send_now(api, merchant, cid, "send-1")
    assert failed.status == 503, failed  # the status moved, the occurrence was not written
    runtime.set_time(NOW + timedelta(seconds=20))
    healed = _send_now(api, merchant, cid, "send-1")  # the client's retry: the same send, its hook run again
    assert healed.status == 200 and healed.json["send_now_requested_at"] == "2026-12-03T04:00:00Z", healed
    again = _send_now(api, merchant, cid, "send-1")  # its answer lost: retried once more
    assert again.status == 200 and again.json["version"] == healed.json["version"]
    _deliver(runtime, NOW + timedelta(minutes=1))
    assert len(runs_of(api, merchant, cid)) == 1
    assert wallet_counts(merchant.id, ids) == dict.fromkeys(ids, 1)

    runtime.set_time(NOW + timedelta(hours=1))  # the runtime's clock drives the app from the first tick on
    assert _send_now(api, merchant, cid, "send-2").status == 200  # a new key is a new send
    _deliver(runtime, NOW + timedelta(hours=1, minutes=1))
    assert len(runs_of(api, merchant, cid)) == 2
    assert wallet_counts(merchant.id, ids) == dict.fromkeys(ids, 2)

    later = NOW + timedelta(hours=3)  # the first key replayed after the second send: answered, not sent again
    runtime.set_time(later)
    replayed = _send_now(api, merchant, cid, "send-1")
    assert replayed.status == 200 and replayed.json["send_now_requested_at"] == "2026-12-03T05:00:00Z", replayed
    _deliver(runtime, later + timedelta(minutes=1))
    assert len(runs_of(api, merchant, cid)) == 2
    assert wallet_counts(merchant.id, ids) == dict.fromkeys(ids, 2)
