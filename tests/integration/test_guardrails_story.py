"""The guardrails story `make demo` tells, through the API and LocalRuntime: a weekly coupon cap and a quiet hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib import wiring
from chalicelib.dispatch.messages import chunk_messages
from tests.support.dispatch import (
    campaign_body,
    make_coupon,
    runs_of,
    seed_customers,
    set_watermark,
    start_campaign,
    wallet_counts,
)

MONDAY_10 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai, the merchant's default zone
CONSENT = {"wallet": True, "inbox": True}


def at(runtime: Any, clock: Any, now: datetime) -> None:
    """Move every clock to `now`, the tick's watermark just before it (tests jump in time)."""
    clock.set(now)
    runtime.set_time(now)
    set_watermark(now)


def run_once(api: Any, merchant: Any, runtime: Any, body: dict[str, Any], now: datetime) -> dict[str, Any]:
    cid = start_campaign(api, merchant, body)
    runtime.tick(now)
    runtime.drain()
    runs = runs_of(api, merchant, cid)
    assert len(runs) == 1
    return {"campaign_id": cid, **runs[0]}


def test_second_campaign_in_the_same_week_is_suppressed_by_the_weekly_coupon_cap_when_sent_through_the_api(
        api, merchant, clock, runtime):
    ids = [f"wk{i}" for i in range(6)]
    seed_customers(api, merchant, ids, consent=CONSENT)
    coupon = make_coupon(api, merchant)
    target = {"kind": "customers", "customer_ids": ids}
    at(runtime, clock, MONDAY_10)
    first = run_once(api, merchant, runtime, campaign_body(coupon, target, name="Monday coupon"), MONDAY_10)
    assert first["progress"]["succeeded"] == 6

    wednesday = MONDAY_10 + timedelta(days=2)
    at(runtime, clock, wednesday)
    second = run_once(api, merchant, runtime, campaign_body(coupon, target, name="Wednesday coupon"), wednesday)
    assert second["progress"]["succeeded"] == 0
    assert second["progress"]["suppressed"] == {"cap_weekly_store_coupon": 6}
    assert set(wallet_counts(merchant.id, ids).values()) == {1}
    report = api.get(f"/v1/campaigns/{second['campaign_id']}/report", token=merchant.token)
    assert report.status == 200, report
    assert report.json["reasons"]["suppressed"] == {"cap_weekly_store_coupon": 6}
    rows = api.get(f"/v1/campaigns/{second['campaign_id']}/recipients?status=suppressed", token=merchant.token).json
    assert {r["reason"] for r in rows["items"]} == {"cap_weekly_store_coupon"}

    next_monday = MONDAY_10 + timedelta(days=7)
    at(runtime, clock, next_monday)
    third = run_once(api, merchant, runtime, campaign_body(coupon, target, name="Next week"), next_monday)
    assert third["progress"]["succeeded"] == 6
    assert set(wallet_counts(merchant.id, ids).values()) == {2}


def test_quiet_hour_send_is_deferred_and_released_once_at_nine_when_the_tick_reaches_it(api, merchant, clock,
                                                                                         runtime):
    ids = [f"qh{i}" for i in range(5)]
    seed_customers(api, merchant, ids, consent=CONSENT)
    content = api.post("/v1/contents", {"name": "evening news", "text": "Hello {nickname}"}, token=merchant.token)
    assert content.status == 201, content
    body = campaign_body(None, {"kind": "customers", "customer_ids": ids}, channel="inbox",
                         content_id=content.json["content_id"], name="Late offer")
    ten_pm = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # Wednesday 22:00 local
    at(runtime, clock, ten_pm)
    run = run_once(api, merchant, runtime, body, ten_pm)
    assert (run["progress"]["succeeded"], run["progress"]["pending"]) == (0, 5)
    runtime.tick(ten_pm + timedelta(minutes=1))  # the next minute's tick, as EventBridge would fire it

    nine = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # Thursday 09:00 local
    before = nine - timedelta(minutes=1)
    clock.set(before)
    runtime.tick(before)  # catches up the night minute by minute: the run's completion check keeps re-arming
    runtime.drain()
    assert api.get(f"/v1/runs/{run['run_id']}", token=merchant.token).json["progress"]["pending"] == 5

    clock.set(nine)
    runtime.tick(nine)  # the tick claims the deferral in its minute and enqueues the chunk
    runtime.drain()
    progress = api.get(f"/v1/runs/{run['run_id']}", token=merchant.token).json["progress"]
    assert (progress["succeeded"], progress["pending"]) == (5, 0)

    for minutes in (1, 6, 12):  # later ticks (and their re-reads of recent buckets) release nothing again
        clock.set(nine + timedelta(minutes=minutes))
        runtime.tick(nine + timedelta(minutes=minutes))
        runtime.drain()
    chunks = wiring.run_store().chunks_of(merchant.id, run["run_id"])
    wiring.queues().send_chunks(chunk_messages(merchant.id, run["run_id"], [c.chunk_id for c in chunks]))  # again
    runtime.drain()
    for cid in ids:
        inbox = api.get(f"/v1/customers/{cid}/inbox", token=merchant.token)
        assert inbox.status == 200, inbox
        assert len(inbox.json["items"]) == 1
        assert inbox.json["items"][0]["sent_at"] == "2026-11-26T01:00:00Z"
    final = api.get(f"/v1/runs/{run['run_id']}", token=merchant.token).json
    assert final["status"] == "complete"
    assert final["progress"]["succeeded"] == 5
