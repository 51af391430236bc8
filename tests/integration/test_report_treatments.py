"""The report's experiment section end to end: per-treatment reach, orders credited to the treatment whose
delivery they are attributed to (a redeemed coupon over a later reach of another campaign), refunds, the holdout."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib import wiring
from chalicelib.core.clock import to_iso
from chalicelib.dispatch.reaches import Reach
from chalicelib.dispatch.store import RunStore
from tests.support.dispatch import make_coupon, runs_of, seed_customers, start_campaign, tick_and_drain


def order(oid: str, cid: str, at: Any, amount: int, discount: int = 0, status: str = "paid",
          coupon: str | None = None) -> dict[str, Any]:
    doc = {"order_id": oid, "customer_id": cid, "paid_at": to_iso(at), "amount_fen": amount,
           "discount_fen": discount, "status": status}
    if coupon:
        doc["coupon_instance_id"] = coupon
    return doc


def ingest(api: Any, merchant: Any, runtime: Any, *orders: dict[str, Any]) -> None:
    r = api.post("/v1/orders/batch", {"items": list(orders)}, token=merchant.token)
    assert r.status == 200 and r.json["rejected"] == 0, r.json
    runtime.drain()


def test_each_treatment_is_credited_its_orders_and_the_holdout_its_own(api, merchant, clock, runtime):
    ids = [f"c{i:03d}" for i in range(160)]
    seed_customers(api, merchant, ids)
    ten = make_coupon(api, merchant, threshold_fen=10_000, discount_fen=1_000)
    twenty = make_coupon(api, merchant, name="20 off", threshold_fen=10_000, discount_fen=2_000)
    start_at = clock.now
    runtime.set_time(start_at)
    body = {"name": "coupon test", "target": {"kind": "customers", "customer_ids": ids},
            "schedule": {"kind": "once", "at": None}, "holdout_percent": 20,
            "treatments": [{"name": "满100减10", "share_percent": 50,
                            "action": {"channel": "wallet", "coupons": [{"coupon_id": ten}]}},
                           {"name": "满100减20", "share_percent": 50,
                            "action": {"channel": "wallet", "coupons": [{"coupon_id": twenty}]}}],
            "experiment": {"metric": "net_revenue_per_recipient"}}
    cid = start_campaign(api, merchant, body)
    tick_and_drain(runtime, start_at)
    run_id = runs_of(api, merchant, cid)[0]["run_id"]
    arm: dict[str, str | None] = {}
    coupon: dict[str, str] = {}
    held: list[str] = []
    for chunk in RunStore().chunks_of(merchant.id, run_id):
        for c, entry in chunk.ledger.items():
            if entry.outcome.value == "held_out":
                held.append(c)
            else:
                arm[c] = chunk.arm
                coupon[c] = entry.instances[0]
    a = sorted(c for c, name in arm.items() if name == "满100减10")
    b = sorted(c for c, name in arm.items() if name == "满100减20")
    later = start_at + timedelta(days=1)
    clock.set(later)
    runtime.set_time(later)
    # b[0] is reached by another campaign after ours: its order still goes to ours, arm B, by the coupon it redeems
    other = Reach(b[0], "cmp_other", "run_other", start_at + timedelta(hours=2))
    wiring.reach_log().record_reaches(merchant.id, [other])
    paid = later - timedelta(hours=1)
    ingest(api, merchant, runtime,
           order("o1", a[0], paid, 12_000, 1_000, coupon=coupon[a[0]]),
           order("o2", a[1], paid, 5_000),
           order("o3", b[0], paid, 15_000, 2_000, coupon=coupon[b[0]]),
           order("o4", held[0], paid, 8_000),
           order("o5", b[1], paid, 30_000))
    ingest(api, merchant, runtime, order("o2", a[1], paid, 5_000, status="refunded"))
    r = api.get(f"/v1/campaigns/{cid}/report", token=merchant.token)
    assert r.status == 200, r.json
    exp = r.json["experiment"]
    rows = {row["name"]: row for row in exp["arms"]}
    assert [row["name"] for row in exp["arms"]] == ["满100减10", "满100减20", "holdout"]
    first, second, control = rows["满100减10"], rows["满100减20"], rows["holdout"]
    assert (first["recipients"], second["recipients"], control["recipients"]) == (len(a), len(b), len(held))
    assert (first["ordered"], first["paid"], first["orders"], first["gmv_fen"], first["discount_fen"]) == \
        (2, 1, 1, 12_000, 1_000)  # the refunded order stays ordered, no longer paid
    assert (second["paid"], second["gmv_fen"], second["discount_fen"], second["net_fen"]) == (2, 45_000, 2_000, 43_000)
    assert (control["paid"], control["gmv_fen"], control["holdout"], control["share_percent"]) == (1, 8_000, True, None)
    assert (first["coupons"]["issued"], first["coupons"]["redeemed"]) == (len(a), 1)
    assert (second["coupons"]["issued"], second["coupons"]["redeemed"]) == (len(b), 1)
    assert control["coupons"]["issued"] == 0
    assert first["conversion_rate"] == round(1 / len(a), 6)
    assert second["net_revenue_per_recipient_fen"] == round(43_000 / len(b), 6)
    assert set(second["vs_first"]) == {"conversion", "revenue_per_recipient", "net_revenue_per_recipient"}
    assert second["vs_first"]["net_revenue_per_recipient"]["difference"] == round(43_000 / len(b) - 11_000 / len(a), 6)
    assert first["vs_first"] == {} and control["vs_holdout"] == {}
    verdict = exp["verdict"]
    assert verdict["status"] == "not_yet_decided" and verdict["metric"] == "net_revenue_per_recipient"
    assert "fewer than 100 reached recipients" in verdict["reason"]
    assert all(n is None or n > 0 for n in verdict["more_recipients_needed"].values())
    assert exp["switched"] is None and exp["switch_to_winner"] is False
    # the campaign-wide figures are unchanged by treatments: both arms together are the treated side
    assert r.json["revenue"]["gmv_fen"] == 57_000 and r.json["revenue"]["control_gmv_fen"] == 8_000
