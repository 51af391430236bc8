"""Issue 15 item 3: a triggered plan acts on events from its activation on (or within the look-back it sets);
older events (a backfill) are skipped and counted once each on the campaign."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.core.clock import to_iso
from tests.support.dispatch import RecordingChannel, campaign_body, seed_customers, start_campaign, tick_and_drain

T0 = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # 11:00 in Asia/Shanghai


@pytest.fixture
def channel(substitute: Any) -> RecordingChannel:
    recording = RecordingChannel()
    substitute.channel("webhook", recording)
    return recording


def orders(api: Any, merchant: Any, rows: list[tuple[str, str, datetime]]) -> None:
    items = [{"order_id": o, "customer_id": c, "paid_at": to_iso(at), "amount_fen": 3000} for o, c, at in rows]
    r = api.post("/v1/orders/batch", {"items": items}, token=merchant.token)
    assert r.status == 200 and r.json["rejected"] == 0, r.json


def activate(api: Any, merchant: Any, clock: Any, runtime: Any, ids: list[str], **schedule: Any) -> str:
    clock.set(T0)
    runtime.set_time(T0)
    body = campaign_body(None, {"kind": "customers", "customer_ids": ids}, channel="webhook",
                         schedule={"kind": "triggered", "event": "purchase", "delay_days": 7, **schedule})
    return start_campaign(api, merchant, body)


def touches(merchant: Any, campaign_id: str) -> dict[str, datetime]:
    return {i.payload["customer_id"]: i.due_at for i in wiring.due_store().of_campaign(merchant.id, campaign_id)
            if i.sk.startswith("touch#")}


def skipped(api: Any, merchant: Any, campaign_id: str) -> int:
    r = api.get(f"/v1/campaigns/{campaign_id}", token=merchant.token)
    assert r.status == 200, r.json
    return int(r.json["skipped_events"])


def test_a_backfilled_order_paid_before_activation_triggers_nothing_and_is_counted_when_there_is_no_lookback(
        api, merchant, clock, runtime, channel):
    seed_customers(api, merchant, ["b1", "b2"])
    cid = activate(api, merchant, clock, runtime, ["b1", "b2"])
    orders(api, merchant, [("old1", "b1", T0 - timedelta(days=30)), ("new1", "b2", T0 + timedelta(minutes=4))])
    runtime.drain()
    assert touches(merchant, cid) == {"b2": T0 + timedelta(minutes=4, days=7)}
    assert skipped(api, merchant, cid) == 1
    orders(api, merchant, [("old1", "b1", T0 - timedelta(days=30))])  # the same backfill sent again
    orders(api, merchant, [("old2", "b1", T0 - timedelta(seconds=1))])  # a second before activation
    runtime.drain()
    assert skipped(api, merchant, cid) == 2
    tick_and_drain(runtime, T0 + timedelta(minutes=1))
    assert channel.sent == []  # nothing due 23 days in the past was sent
    assert wiring.run_store().list_runs(merchant.id, cid, 10, None)[0] == []


def test_an_order_within_the_lookback_triggers_and_an_older_one_is_skipped_when_the_campaign_sets_one(
        api, merchant, clock, runtime, channel):
    seed_customers(api, merchant, ["l1", "l2", "l3"])
    cid = activate(api, merchant, clock, runtime, ["l1", "l2", "l3"], lookback_days=10)
    orders(api, merchant, [("w1", "l1", T0 - timedelta(days=9)), ("w2", "l2", T0 - timedelta(days=11)),
                           ("w3", "l3", T0)])
    runtime.drain()
    assert touches(merchant, cid) == {"l1": T0 - timedelta(days=2), "l3": T0 + timedelta(days=7)}
    assert skipped(api, merchant, cid) == 1
    tick_and_drain(runtime, T0 + timedelta(minutes=1))
    assert Counter(c for _, c in channel.sent) == Counter({"l1": 1})  # its occurrence is past: sent at once


def test_a_lookback_beyond_a_year_is_refused_naming_the_field(api, merchant):
    body = campaign_body(None, {"kind": "customers", "customer_ids": ["x"]}, channel="webhook",
                         schedule={"kind": "triggered", "event": "purchase", "lookback_days": 366})
    r = api.post("/v1/campaigns", body, token=merchant.token)
    assert (r.status, r.json["error"]["field"]) == (400, "body.schedule.lookback_days"), r.json
