"""Triggers and schedules for the seeds (issue 18 items 7-9): cancellations and first visits, several touches per
event, repeats, per-event dedup, pausing a plan before it starts, next_run_at, the upcoming touches."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.core.clock import to_iso
from tests.support.dispatch import RecordingChannel, campaign_body, seed_customers, start_campaign, tick_and_drain

T0 = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # Wednesday 11:00 in Shanghai


@pytest.fixture
def channel(substitute):
    recording = RecordingChannel()
    substitute.channel("webhook", recording)
    return recording


def _triggered(event: str, target: list[str], **schedule: Any) -> dict[str, Any]:
    return campaign_body(None, {"kind": "customers", "customer_ids": target}, channel="webhook", name=event,
                         schedule={"kind": "triggered", "event": event, "delay_days": 0, **schedule})


def _post(api: Any, merchant: Any, path: str, items: list[dict[str, Any]]) -> None:
    r = api.post(path, {"items": items}, token=merchant.token)
    assert r.status == 200 and r.json["rejected"] == 0, r.json


def _order(order_id: str, customer: str, paid: datetime, **extra: Any) -> dict[str, Any]:
    return {"order_id": order_id, "customer_id": customer, "paid_at": to_iso(paid), "amount_fen": 3000, **extra}


def _start(api: Any, merchant: Any, clock: Any, runtime: Any, *bodies: dict[str, Any]) -> list[str]:
    clock.set(T0)
    runtime.set_time(T0)
    return [start_campaign(api, merchant, b) for b in bodies]


def _sent_by(channel: RecordingChannel, api: Any, merchant: Any, campaign_id: str) -> Counter[str]:
    runs = {r["run_id"] for r in api.get(f"/v1/campaigns/{campaign_id}/runs", token=merchant.token).json["items"]}
    return Counter(c for run, c in channel.sent if run in runs)


# -- item 7 ----------------------------------------------------------------------------------------------------
def test_an_order_cancelled_through_the_orders_batch_fires_the_cancelled_trigger_once_per_order(
        api, merchant, clock, runtime, channel):
    seed_customers(api, merchant, ["o1", "o2", "o3"], consent={"webhook": True})
    cancelled, timed_out = _start(api, merchant, clock, runtime,
                                  _triggered("order_cancelled", ["o1", "o2", "o3"]),
                                  _triggered("order_timed_out", ["o1", "o2", "o3"]))
    paid = T0 + timedelta(minutes=1)
    _post(api, merchant, "/v1/orders/batch", [_order("x1", "o1", paid), _order("x2", "o2", paid)])
    runtime.drain()
    clock.set(T0 + timedelta(minutes=8))  # the cancellations happen later (instants ahead of the clock are refused)
    runtime.set_time(T0 + timedelta(minutes=8))
    # o1's order becomes cancelled in a later batch; the store also reports it as an order_cancelled event.
    _post(api, merchant, "/v1/orders/batch", [_order("x1", "o1", paid, status="cancelled",
                                                     cancelled_at=to_iso(paid + timedelta(minutes=5)))])
    _post(api, merchant, "/v1/events/batch", [{"event_id": "ev1", "customer_id": "o1", "type": "order_cancelled",
                                               "at": to_iso(paid + timedelta(minutes=5)), "order_id": "x1"}])
    # o2's order was never accepted: cancelled with that reason, it is the "not accepted in time" trigger's.
    _post(api, merchant, "/v1/orders/batch", [_order("x2", "o2", paid, status="cancelled",
                                                     cancel_reason="not_accepted_in_time")])
    # o3's order arrives already cancelled.
    _post(api, merchant, "/v1/orders/batch", [_order("x3", "o3", paid, status="cancelled")])
    runtime.drain()
    tick_and_drain(runtime, T0 + timedelta(minutes=10))
    assert _sent_by(channel, api, merchant, cancelled) == Counter({"o1": 1, "o3": 1})
    assert _sent_by(channel, api, merchant, timed_out) == Counter({"o2": 1})
    # The same cancellation sent again (a client retry) touches nobody again.
    _post(api, merchant, "/v1/orders/batch", [_order("x1", "o1", paid, status="cancelled")])
    runtime.drain()
    tick_and_drain(runtime, T0 + timedelta(minutes=20))
    assert _sent_by(channel, api, merchant, cancelled) == Counter({"o1": 1, "o3": 1})


def test_a_customers_first_visit_fires_the_first_visit_trigger_once_and_later_visits_never(
        api, merchant, clock, runtime, channel):
    seed_customers(api, merchant, ["v1", "v2"], consent={"webhook": True})
    r = api.post("/v1/events/batch", {"items": [{"event_id": "old", "customer_id": "v2", "type": "visit",
                                                 "at": to_iso(T0 - timedelta(days=30))}]}, token=merchant.token)
    assert r.status == 200
    runtime.drain()  # v2 visited a month ago: its next visit is not a first one
    [first] = _start(api, merchant, clock, runtime, _triggered("first_visit", ["v1", "v2"]))
    visits = [{"event_id": f"{c}-{n}", "customer_id": c, "type": "visit", "at": to_iso(T0 + timedelta(minutes=n))}
              for c in ("v1", "v2") for n in (1, 2)]
    _post(api, merchant, "/v1/events/batch", visits[:1])
    runtime.drain()
    _post(api, merchant, "/v1/events/batch", visits[1:] + visits[:1])  # later visits, and the first one again
    runtime.drain()
    tick_and_drain(runtime, T0 + timedelta(minutes=5))
    assert _sent_by(channel, api, merchant, first) == Counter({"v1": 1})


# -- item 9 ----------------------------------------------------------------------------------------------------
def test_a_scheduled_plan_paused_before_it_starts_sends_nothing_and_resumes_to_scheduled(
        api, merchant, clock, runtime, channel):
    seed_customers(api, merchant, ["p1"], consent={"webhook": True})
    body = campaign_body(None, {"kind": "customers", "customer_ids": ["p1"]}, channel="webhook", name="001 plan",
                         schedule={"kind": "recurring", "frequency": "daily", "time": "12:00"})
    [cid] = _start(api, merchant, clock, runtime, body)  # Wednesday 11:00: first run at 12:00 today
    assert api.get(f"/v1/campaigns/{cid}", token=merchant.token).json["status"] == "scheduled"
    paused = api.post(f"/v1/campaigns/{cid}/pause", token=merchant.token)
    assert paused.status == 200 and paused.json["status"] == "paused"  # 未开始 → 暂停中
    tick_and_drain(runtime, T0 + timedelta(hours=1))  # 12:00 passes while paused: skipped
    assert channel.sent == []
    got = api.get(f"/v1/campaigns/{cid}", token=merchant.token).json
    assert got["next_run_at"] == "2026-12-03T04:00:00Z"  # tomorrow's 12:00, kept current through the skip
    clock.set(T0 + timedelta(hours=2))
    resumed = api.post(f"/v1/campaigns/{cid}/resume", token=merchant.token)
    assert resumed.status == 200 and resumed.json["status"] == "scheduled"  # it never ran: back to 未开始
    tick_and_drain(runtime, T0 + timedelta(days=1, hours=1))
    assert [c for _, c in channel.sent] == ["p1"]
    got = api.get(f"/v1/campaigns/{cid}", token=merchant.token).json
    assert (got["status"], got["next_run_at"]) == ("running", "2026-12-04T04:00:00Z")
    # Paused while running, it resumes to running.
    assert api.post(f"/v1/campaigns/{cid}/pause", token=merchant.token).json["status"] == "paused"
    assert api.post(f"/v1/campaigns/{cid}/resume", token=merchant.token).json["status"] == "running"


def test_the_upcoming_touches_of_a_triggered_plan_are_listed_page_by_page(api, merchant, clock, runtime, channel):
    seed_customers(api, merchant, ["u1", "u2", "u3"], consent={"webhook": True})
    [cid] = _start(api, merchant, clock, runtime, _triggered("purchase", ["u1", "u2", "u3"], delay_days=3))
    paid = T0 + timedelta(minutes=1)
    _post(api, merchant, "/v1/orders/batch", [_order(f"b{c}", c, paid) for c in ("u1", "u2", "u3")])
    runtime.drain()
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = api.get(f"/v1/campaigns/{cid}/touches?limit=2" + (f"&cursor={cursor}" if cursor else ""),
                       token=merchant.token).json
        assert len(page["items"]) <= 2
        seen += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert sorted((t["customer_id"], t["event"], t["due_at"], t["status"]) for t in seen) == [
        (c, f"order:b{c}", to_iso(paid + timedelta(days=3)), "pending") for c in ("u1", "u2", "u3")]
    tick_and_drain(runtime, paid + timedelta(days=3, minutes=1))
    assert api.get(f"/v1/campaigns/{cid}/touches", token=merchant.token).json["items"] == []  # sent: not upcoming
    other = api.get("/v1/campaigns/cmp_nope/touches", token=merchant.token)
    assert other.status == 404
