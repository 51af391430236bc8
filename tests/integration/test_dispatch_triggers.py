"""Triggered campaigns and calendar schedules through the activity stream and the tick."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core.clock import to_iso
from tests.support.dispatch import (
    RecordingChannel,
    campaign_body,
    runs_of,
    seed_customers,
    set_watermark,
    start_campaign,
    tick_and_drain,
)

T0 = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)



@pytest.fixture
def channel(substitute):
    recording = RecordingChannel()
    substitute.channel("webhook", recording)
    return recording


def _events(api, merchant, rows):
    items = [{"event_id": e, "customer_id": c, "type": "service_completed", "at": to_iso(at)} for e, c, at in rows]
    r = api.post("/v1/events/batch", {"items": items}, token=merchant.token)
    assert r.status == 200, r


def test_an_event_touches_a_matching_customer_once_when_it_is_delivered_again(api, merchant, clock, runtime,
                                                                            channel):
    seed_customers(api, merchant, ["t1", "t2", "t3"])
    clock.set(T0)
    runtime.set_time(T0)
    body = campaign_body(None, {"kind": "customers", "customer_ids": ["t1", "t2"]}, channel="webhook",
                         schedule={"kind": "triggered", "event": "service_completed", "delay_days": 0})
    cid = start_campaign(api, merchant, body)
    before = T0  # the activation instant: the plan acts on events from then on
    _events(api, merchant, [("e1", "t1", before), ("e2", "t2", before), ("e3", "t3", before)])
    runtime.drain()
    _events(api, merchant, [("e1", "t1", before)])  # the same event again: no second touch
    runtime.drain()
    tick_and_drain(runtime, T0)
    assert Counter(c for _, c in channel.sent) == Counter({"t1": 1, "t2": 1})
    _events(api, merchant, [("e4", "t1", T0)])  # another event the same local day: the day's run has t1 already
    runtime.drain()
    tick_and_drain(runtime, T0 + timedelta(minutes=1))
    assert Counter(c for _, c in channel.sent) == Counter({"t1": 1, "t2": 1})
    runs = runs_of(api, merchant, cid)
    assert len(runs) == 1 and runs[0]["kind"] == "touches"
    p = runs[0]["progress"]
    assert p["succeeded"] == 2
    assert p["suppressed"] == {"already_touched": 1, "not_in_target": 1}
    assert runs[0]["status"] == "sending"  # the local day (Shanghai) may still bring touches
    tick_and_drain(runtime, datetime(2026, 12, 2, 16, 59, tzinfo=UTC))  # 00:59 local: within the grace hour
    assert runs_of(api, merchant, cid)[0]["status"] == "sending"
    tick_and_drain(runtime, datetime(2026, 12, 2, 17, 1, tzinfo=UTC))  # the day closed an hour ago
    assert runs_of(api, merchant, cid)[0]["status"] == "complete"
    # An event of that day ingested the next morning: its touch joins that day's run, which reopens until the
    # late chunk is delivered and then completes again.
    morning = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)  # 10:00 local, next day
    runtime.set_time(morning)
    _events(api, merchant, [("e5", "t2", datetime(2026, 12, 2, 12, 0, tzinfo=UTC))])
    runtime.drain()
    runtime.tick(morning)  # the late touch's chunk is written and queued, not yet delivered
    runtime.tick(morning + timedelta(minutes=1))  # the re-armed check finds it pending
    runs = runs_of(api, merchant, cid)
    assert len(runs) == 1 and runs[0]["status"] == "sending" and runs[0]["progress"]["pending"] == 1
    runtime.drain()
    runtime.tick(morning + timedelta(minutes=7))
    runs = runs_of(api, merchant, cid)
    assert runs[0]["status"] == "complete" and runs[0]["progress"]["pending"] == 0
    assert Counter(c for _, c in channel.sent) == Counter({"t1": 1, "t2": 1})  # t2 was touched that day already


@pytest.mark.usefixtures("allow_all")  # a midnight send: quiet hours are tested elsewhere
def test_monthly_last_day_runs_at_local_midnight_and_catches_up_missed_minutes(api, merchant, clock, runtime,
                                                                             channel):
    seed_customers(api, merchant, ["m1"])
    start = datetime(2027, 1, 30, 10, 0, tzinfo=UTC)  # 18:00 in Shanghai
    clock.set(start)
    runtime.set_time(start)
    body = campaign_body(None, {"kind": "customers", "customer_ids": ["m1"]}, channel="webhook",
                         schedule={"kind": "recurring", "frequency": "monthly", "last_day": True, "time": "00:30"})
    cid = start_campaign(api, merchant, body)
    first = datetime(2027, 1, 30, 16, 30, tzinfo=UTC)  # 31 Jan 00:30 local
    tick_and_drain(runtime, first - timedelta(minutes=1))
    assert runs_of(api, merchant, cid) == []
    set_watermark(first - timedelta(minutes=1))
    runtime.tick(first + timedelta(minutes=3))  # 16:30 was missed: catch-up reads it
    runtime.drain()
    second = datetime(2027, 2, 27, 16, 30, tzinfo=UTC)  # 28 Feb 00:30 local: February's last day
    tick_and_drain(runtime, second)
    tick_and_drain(runtime, datetime(2027, 2, 28, 16, 30, tzinfo=UTC))
    occurrences = [r["occurrence"] for r in runs_of(api, merchant, cid)]
    assert sorted(occurrences) == [to_iso(first), to_iso(second)]
    assert [c for _, c in channel.sent] == ["m1", "m1"]
