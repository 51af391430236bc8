"""Dispatch records reaches for attribution exactly once (crash between outcome and recording, redelivery), and
orders on the activity stream redeem campaign coupons and are attributed to the campaign."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.core.clock import to_iso
from chalicelib.coupons.model import InstanceStatus
from chalicelib.dispatch.model import Outcome
from chalicelib.dispatch.reaches import Reach
from chalicelib.reports.reach_log import DEPTH, ReachLog
from tests.support.dispatch import (
    campaign_body,
    ledger_of,
    make_coupon,
    relax_guardrails,
    runs_of,
    seed_customers,
    start_campaign,
    tick_and_drain,
    wallet_counts,
)

NOW = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)


class Crash(Exception):
    """The dispatch worker fails right around its reach recording (the chunk's outcomes are already final)."""


def _send(api: Any, merchant: Any, clock: Any, runtime: Any, ids: list[str], holdout: int) -> tuple[str, str]:
    relax_guardrails(api, merchant.token)
    seed_customers(api, merchant, ids)
    coupon = make_coupon(api, merchant)
    clock.set(NOW)
    runtime.set_time(NOW)
    cid = start_campaign(api, merchant, campaign_body(coupon, {"kind": "customers", "customer_ids": ids},
                                                      holdout_percent=holdout, attribution_window_days=10))
    tick_and_drain(runtime, NOW)
    return cid, runs_of(api, merchant, cid)[0]["run_id"]


@pytest.mark.parametrize("when", ["before", "after"])
def test_touches_hold_each_reach_once_when_the_worker_dies_around_recording_them(api, merchant, clock, runtime,
                                                                               monkeypatch, when):
    calls = {"n": 0}
    original = ReachLog.record_reaches

    def crashing(self: ReachLog, merchant_id: str, reaches: Any, now: datetime | None = None) -> None:
        calls["n"] += 1
        if calls["n"] == 1 and when == "before":
            raise Crash("died before the touches were written")
        original(self, merchant_id, reaches, now)
        if calls["n"] == 1:
            raise Crash("died after the touches were written, before the message was deleted")

    monkeypatch.setattr(ReachLog, "record_reaches", crashing)
    ids = [f"r{i:02d}" for i in range(30)]
    cid, run_id = _send(api, merchant, clock, runtime, ids, holdout=30)
    assert calls["n"] >= 2  # the redelivered message found its chunk done and recorded again
    ledger = ledger_of(merchant.id, run_id)
    assert {e.outcome for e in ledger.values()} == {Outcome.SUCCEEDED, Outcome.HELD_OUT}
    touches = wiring.reach_log().get_many(merchant.id, ids)
    assert set(touches) == set(ids)
    for customer, reaches in touches.items():
        entry = ledger[customer]
        assert reaches == [Reach(customer, cid, run_id, NOW, entry.outcome is Outcome.HELD_OUT, (), 10)]
    reached = [c for c, e in ledger.items() if e.outcome is Outcome.SUCCEEDED]
    assert wallet_counts(merchant.id, ids) == {c: int(c in reached) for c in ids}


def test_an_order_redeems_its_coupon_and_is_attributed_when_it_comes_through_the_orders_api(api, merchant, clock,
                                                                                          runtime):
    ids = [f"o{i:02d}" for i in range(12)]
    cid, run_id = _send(api, merchant, clock, runtime, ids, holdout=0)
    ledger = ledger_of(merchant.id, run_id)
    instance = ledger["o03"].instances[0]
    later = NOW + timedelta(days=2)
    clock.set(later)
    runtime.set_time(later)
    paid = to_iso(NOW + timedelta(days=1))
    orders = [{"order_id": "ord-coupon", "customer_id": "o03", "paid_at": paid, "amount_fen": 5000,
               "discount_fen": 1000, "coupon_instance_id": instance},
              {"order_id": "ord-plain", "customer_id": "o04", "paid_at": paid, "amount_fen": 2000}]
    assert api.post("/v1/orders/batch", {"items": orders}, token=merchant.token).status == 200
    runtime.drain()
    redeemed = wiring.wallet_store().get_instance(merchant.id, instance)
    assert redeemed is not None and redeemed.status is InstanceStatus.REDEEMED
    assert redeemed.order_id == "ord-coupon" and redeemed.campaign_id == cid
    report = api.get(f"/v1/campaigns/{cid}/report", token=merchant.token)
    assert report.status == 200, report
    revenue = report.json["revenue"]
    assert (revenue["orders"], revenue["coupon_orders"], revenue["gmv_fen"]) == (2, 1, 7000)
    assert report.json["funnel"]["reached"] == 12 and report.json["funnel"]["ordered"] == 2


def test_a_late_repeat_of_an_old_reach_changes_nothing_and_keeps_newer_touches(aws, merchant):
    store = wiring.reach_log()
    old = Reach("cx", "cmp_old", "run_old", NOW - timedelta(hours=1), window_days=7)
    new = Reach("cx", "cmp_new", "run_new", NOW + timedelta(hours=1), window_days=7)
    other = Reach("cx", "cmp_long", "run_long", NOW, window_days=30)
    store.record_reaches(merchant.id, [old], now=old.at)
    store.record_reaches(merchant.id, [new, other], now=new.at)
    store.record_reaches(merchant.id, [old, other], now=new.at + timedelta(minutes=5))  # a redelivered chunk
    assert store.get_many(merchant.id, ["cx"])["cx"] == [old, other, new]


def test_a_repeat_of_a_reach_carrying_coupon_ids_changes_nothing(aws, merchant):
    store = wiring.reach_log()
    reach = Reach("cz", "cmp_c", "run_c", NOW, coupon_instance_ids=("ci_1", "ci_2"), window_days=7)
    store.record_reaches(merchant.id, [reach])
    store.record_reaches(merchant.id, [reach, Reach("cw", "cmp_c", "run_c", NOW, window_days=7)])  # a redelivery
    got = store.get_many(merchant.id, ["cz", "cw"])
    assert got["cz"] == [Reach("cz", "cmp_c", "run_c", NOW, window_days=7)]  # the register keeps no coupon ids
    assert [r.customer_id for r in got["cw"]] == ["cw"]


def test_each_window_keeps_its_latest_reaches_and_the_oldest_fall_off(aws, merchant):
    store = wiring.reach_log()
    week = [Reach("cy", f"cmp_{i}", f"run_{i}", NOW + timedelta(days=i), window_days=7) for i in range(DEPTH + 2)]
    long = Reach("cy", "cmp_long", "run_long", NOW - timedelta(days=20), window_days=90)
    store.record_reaches(merchant.id, [long])
    for reach in week[:3]:
        store.record_reaches(merchant.id, [reach])
    store.record_reaches(merchant.id, week[3:])  # several of one window in one write shift the register once
    assert store.get_many(merchant.id, ["cy"])["cy"] == [long, *week[2:]]


def test_a_wallet_send_writes_its_reaches_in_the_guard_update_and_records_only_holdouts_afterwards(
        api, merchant, clock, runtime, monkeypatch):
    recorded: list[Reach] = []
    original = ReachLog.record_reaches

    def spy(self: ReachLog, merchant_id: str, reaches: Any, now: datetime | None = None) -> None:
        reaches = list(reaches)
        recorded.extend(reaches)
        original(self, merchant_id, reaches, now)

    monkeypatch.setattr(ReachLog, "record_reaches", spy)
    ids = [f"w{i:02d}" for i in range(40)]
    cid, run_id = _send(api, merchant, clock, runtime, ids, holdout=25)
    ledger = ledger_of(merchant.id, run_id)
    sent = {c for c, e in ledger.items() if e.outcome is Outcome.SUCCEEDED}
    held = {c for c, e in ledger.items() if e.outcome is Outcome.HELD_OUT}
    assert sent and held and sent | held == set(ids)
    assert all(ledger[c].reach_written for c in sent) and not any(ledger[c].reach_written for c in held)
    assert {r.customer_id for r in recorded} == held and all(r.held_out for r in recorded)
    touches = wiring.reach_log().get_many(merchant.id, ids)
    for customer in ids:
        assert touches[customer] == [Reach(customer, cid, run_id, NOW, customer in held, (), 10)]
    # The guard counters live on the same item and still count the send.
    from chalicelib.guardrails.store import guard_key

    items = wiring.guard_store().read([guard_key(merchant.id, c) for c in sent])
    assert all(any(k.startswith("rc_") and cid in v for k, v in item.items()) for item in items.values())
    assert len(items) == len(sent)
