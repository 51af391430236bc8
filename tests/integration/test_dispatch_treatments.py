"""A/B treatments through the pipeline: each recipient gets its arm's action, once, by a stable assignment that
is independent of the holdout, with consent and caps applied per recipient as for any send."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from chalicelib.core.clock import to_iso
from chalicelib.coupons.store import WalletItem, _instance
from chalicelib.dispatch.model import Outcome, holdout
from chalicelib.dispatch.snapshot import arm_of
from chalicelib.dispatch.store import RunStore
from tests.support.dispatch import (
    make_coupon,
    relax_guardrails,
    runs_of,
    seed_customers,
    start_campaign,
    tick_and_drain,
)


def coupons_of(merchant_id: str, customer_id: str) -> list[str]:
    """The coupon template of each instance in the customer's wallet."""
    return sorted(_instance(merchant_id, i).coupon_id for i in WalletItem.by_owner.query(f"{merchant_id}#{customer_id}")
                  if i.kind == "CI")


def arms_body(ten: str, twenty: str, ids: list[str], schedule: dict[str, Any] | None = None,
              second: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": "coupon test", "target": {"kind": "customers", "customer_ids": ids},
            "schedule": schedule or {"kind": "once", "at": None}, "holdout_percent": 20,
            "treatments": [{"name": "满100减10", "share_percent": 50,
                            "action": {"channel": "wallet", "coupons": [{"coupon_id": ten}]}},
                           {"name": "满100减20", "share_percent": 50,
                            "action": second or {"channel": "wallet", "coupons": [{"coupon_id": twenty}]}}]}


def test_each_recipient_gets_its_arms_coupon_once_and_the_holdout_nothing(api, merchant, clock, runtime):
    ids = [f"c{i:03d}" for i in range(300)]
    seed_customers(api, merchant, ids)
    ten, twenty = make_coupon(api, merchant), make_coupon(api, merchant, name="20 off", discount_fen=2000)
    runtime.set_time(clock.now)
    cid = start_campaign(api, merchant, arms_body(ten, twenty, ids))
    tick_and_drain(runtime, clock.now)
    run_id = runs_of(api, merchant, cid)[0]["run_id"]
    data = api.get(f"/v1/campaigns/{cid}", token=merchant.token).json
    chunks = RunStore().chunks_of(merchant.id, run_id)
    assert {c.arm for c in chunks} == {"满100减10", "满100减20"}
    for chunk in chunks:  # the ledger's chunk names the treatment of every recipient in it
        assert {arm_of(data, cid, r.customer_id) for r in chunk.recipients} == {chunk.arm}
    arms = Counter()
    for c in ids:
        got = coupons_of(merchant.id, c)
        if holdout(cid, c, 20):
            assert got == [], c
            continue
        arm = arm_of(data, cid, c)
        assert got == [ten if arm == "满100减10" else twenty], (c, arm, got)
        arms[arm] += 1
    assert sum(arms.values()) > 200 and min(arms.values()) > 0.35 * sum(arms.values())
    progress = runs_of(api, merchant, cid)[0]["progress"]
    assert progress["succeeded"] == sum(arms.values()) and progress["pending"] == 0


def test_consent_applies_per_recipient_in_each_arm(api, merchant, clock, runtime):
    ids = [f"c{i:03d}" for i in range(120)]
    seed_customers(api, merchant, ids[:60], consent={"sms": True})
    seed_customers(api, merchant, ids[60:])  # SMS is opt-in: these have not opted in
    ten, twenty = make_coupon(api, merchant), make_coupon(api, merchant, name="20 off", discount_fen=2000)
    content = api.post("/v1/contents", {"name": "offer", "text": "Hi {nickname}, a coupon for you"},
                       token=merchant.token).json["content_id"]
    sms = {"channel": "sms", "content_id": content, "coupons": [{"coupon_id": twenty}]}
    runtime.set_time(clock.now)
    cid = start_campaign(api, merchant, arms_body(ten, twenty, ids, second=sms))
    tick_and_drain(runtime, clock.now)
    run_id = runs_of(api, merchant, cid)[0]["run_id"]
    data = api.get(f"/v1/campaigns/{cid}", token=merchant.token).json
    ledger = {c: e for chunk in RunStore().chunks_of(merchant.id, run_id) for c, e in chunk.ledger.items()}
    seen = Counter()
    for i, c in enumerate(ids):
        entry, arm = ledger[c], arm_of(data, cid, c)
        if holdout(cid, c, 20):
            assert entry.outcome is Outcome.HELD_OUT
        elif arm == "满100减20" and i >= 60:
            assert (entry.outcome, entry.reason) == (Outcome.SUPPRESSED, "no_consent"), c
            seen["suppressed"] += 1
        else:
            assert entry.outcome is Outcome.SUCCEEDED, (c, arm, entry)
            seen[arm] += 1
    assert seen["suppressed"] and seen["满100减10"] and seen["满100减20"]


def test_a_recurring_plan_keeps_each_customers_arm_across_runs(api, merchant, clock, runtime):
    ids = [f"c{i:03d}" for i in range(80)]
    seed_customers(api, merchant, ids)
    relax_guardrails(api, merchant.token)
    ten, twenty = make_coupon(api, merchant), make_coupon(api, merchant, name="20 off", discount_fen=2000)
    runtime.set_time(clock.now)
    daily = {"kind": "recurring", "frequency": "daily", "time": "10:00"}
    cid = start_campaign(api, merchant, arms_body(ten, twenty, ids, schedule=daily))
    first = api.get(f"/v1/campaigns/{cid}", token=merchant.token).json["next_run_at"]
    from chalicelib.core.clock import parse_iso
    at = parse_iso(first)
    for day in range(2):
        runtime.set_time(at + timedelta(days=day))
        tick_and_drain(runtime, at + timedelta(days=day))
    runs = runs_of(api, merchant, cid)
    assert len(runs) == 2
    by_run = [{r.customer_id: c.arm for c in RunStore().chunks_of(merchant.id, run["run_id"]) for r in c.recipients}
              for run in runs]
    assert by_run[0] == by_run[1] and set(by_run[0]) == set(ids)
    for c in ids:
        if not holdout(cid, c, 20):
            assert len(coupons_of(merchant.id, c)) == 2 and len(set(coupons_of(merchant.id, c))) == 1


def test_triggered_touches_are_batched_one_treatment_a_chunk(api, merchant, clock, runtime):
    ids = [f"t{i:02d}" for i in range(40)]
    seed_customers(api, merchant, ids)
    relax_guardrails(api, merchant.token)
    ten, twenty = make_coupon(api, merchant), make_coupon(api, merchant, name="20 off", discount_fen=2000)
    runtime.set_time(clock.now)
    body = arms_body(ten, twenty, ids, schedule={"kind": "triggered", "event": "service_completed", "delay_days": 0})
    cid = start_campaign(api, merchant, body)
    events = [{"event_id": f"e{c}", "customer_id": c, "type": "service_completed", "at": to_iso(clock.now)}
              for c in ids]
    assert api.post("/v1/events/batch", {"items": events}, token=merchant.token).status == 200
    runtime.drain()
    tick_and_drain(runtime, clock.now)
    data = api.get(f"/v1/campaigns/{cid}", token=merchant.token).json
    run_id = runs_of(api, merchant, cid)[0]["run_id"]
    chunks = RunStore().chunks_of(merchant.id, run_id)
    assert {c.arm for c in chunks} == {"满100减10", "满100减20"}
    for chunk in chunks:
        assert {arm_of(data, cid, r.customer_id) for r in chunk.recipients} == {chunk.arm}
    for c in ids:
        expected = [] if holdout(cid, c, 20) else [ten if arm_of(data, cid, c) == "满100减10" else twenty]
        assert coupons_of(merchant.id, c) == expected, c
