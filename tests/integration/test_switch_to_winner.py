"""Switch-to-winner: once the verdict holds, a recurring plan's next run sends the winner to everyone not held
out, recorded as a campaign event that the campaign and its report show; undecided plans keep their split."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from chalicelib.core.clock import parse_iso, to_iso
from chalicelib.dispatch.store import RunStore
from tests.support.dispatch import (
    make_coupon,
    relax_guardrails,
    runs_of,
    seed_customers,
    start_campaign,
    tick_and_drain,
)


def arms_of(merchant_id: str, run_id: str) -> dict[str, str | None]:
    return {r.customer_id: c.arm for c in RunStore().chunks_of(merchant_id, run_id) for r in c.recipients
            if c.ledger.get(r.customer_id) is not None and c.ledger[r.customer_id].outcome.value == "succeeded"}


def plan(api: Any, merchant: Any, clock: Any, runtime: Any, switch: bool) -> tuple[str, Any]:
    ids = [f"c{i:03d}" for i in range(300)]
    seed_customers(api, merchant, ids)
    relax_guardrails(api, merchant.token)
    ten, twenty = make_coupon(api, merchant), make_coupon(api, merchant, name="20 off", discount_fen=2000)
    runtime.set_time(clock.now)
    body = {"name": "weekly test", "target": {"kind": "customers", "customer_ids": ids}, "holdout_percent": 10,
            "schedule": {"kind": "recurring", "frequency": "daily", "time": "10:00"},
            "treatments": [{"name": "满100减10", "share_percent": 50,
                            "action": {"channel": "wallet", "coupons": [{"coupon_id": ten}]}},
                           {"name": "满100减20", "share_percent": 50,
                            "action": {"channel": "wallet", "coupons": [{"coupon_id": twenty}]}}],
            "experiment": {"metric": "conversion", "switch_to_winner": switch}}
    cid = start_campaign(api, merchant, body)
    first = parse_iso(api.get(f"/v1/campaigns/{cid}", token=merchant.token).json["next_run_at"])
    runtime.set_time(first)
    tick_and_drain(runtime, first)
    run_id = runs_of(api, merchant, cid)[0]["run_id"]
    arms = arms_of(merchant.id, run_id)
    buyers = [c for c, a in sorted(arms.items()) if a == "满100减20"][:60] + \
        [c for c, a in sorted(arms.items()) if a == "满100减10"][:6]
    clock.set(first + timedelta(hours=3))
    runtime.set_time(first + timedelta(hours=3))
    paid = to_iso(first + timedelta(hours=2))
    orders = [{"order_id": f"o{c}", "customer_id": c, "paid_at": paid, "amount_fen": 15_000, "status": "paid"}
              for c in buyers]
    assert api.post("/v1/orders/batch", {"items": orders}, token=merchant.token).status == 200
    runtime.drain()
    second = first + timedelta(days=1)
    clock.set(second)
    runtime.set_time(second)
    tick_and_drain(runtime, second)
    return cid, second


def test_a_decided_plan_sends_the_winner_to_everyone_from_the_next_run(api, merchant, clock, runtime):
    cid, switched_at = plan(api, merchant, clock, runtime, switch=True)
    campaign = api.get(f"/v1/campaigns/{cid}", token=merchant.token).json
    winner = campaign["winner"]
    assert winner["treatment"] == "满100减20" and winner["type"] == "switched_to_winner"
    assert parse_iso(winner["at"]) == switched_at and winner["metric"] == "conversion"
    assert winner["ci_low"] > 0 and winner["runner_up"] == "满100减10"
    runs = sorted(runs_of(api, merchant, cid), key=lambda r: r["started_at"])
    assert len(runs) == 2
    before, after = arms_of(merchant.id, runs[0]["run_id"]), arms_of(merchant.id, runs[1]["run_id"])
    assert set(Counter(before.values())) == {"满100减10", "满100减20"}
    assert set(after.values()) == {"满100减20"} and set(after) == set(before)  # the holdout stays held out
    report = api.get(f"/v1/campaigns/{cid}/report", token=merchant.token).json["experiment"]
    assert report["switched"]["treatment"] == "满100减20" and report["switch_to_winner"] is True
    assert report["verdict"]["status"] == "decided" and report["verdict"]["winner"] == "满100减20"


def test_a_plan_not_set_to_switch_keeps_its_split(api, merchant, clock, runtime):
    cid, _ = plan(api, merchant, clock, runtime, switch=False)
    assert api.get(f"/v1/campaigns/{cid}", token=merchant.token).json["winner"] is None
    runs = sorted(runs_of(api, merchant, cid), key=lambda r: r["started_at"])
    assert arms_of(merchant.id, runs[0]["run_id"]) == arms_of(merchant.id, runs[1]["run_id"])
    report = api.get(f"/v1/campaigns/{cid}/report", token=merchant.token).json["experiment"]
    assert report["switched"] is None and report["verdict"]["status"] == "decided"
