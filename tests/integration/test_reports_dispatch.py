"""A real holdout campaign through dispatch, orders through the API, and the report's lift by hand."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from chalicelib import wiring
from chalicelib.core.clock import to_iso
from chalicelib.dispatch.reaches import Reach
from chalicelib.reports.delivery_counts import CLAIMED, CLAIMERS, HELD_OUT, ISSUED, REACHED, TARGETED
from chalicelib.reports.model import DeliveryStatus
from chalicelib.reports.tally_store import TallyReader
from tests.support.dispatch import set_watermark


def _post(api: Any, merchant: Any, path: str, body: dict[str, Any]) -> Any:
    r = api.post(path, body, token=merchant.token)
    assert r.status in (200, 201), r.json
    return r.json


def record_reaches_from_ledger(merchant_id: str, campaign_id: str, window_days: int) -> int:
    """What the dispatch worker did after each chunk's outcomes were final, again: it must change nothing."""
    deliveries = wiring.delivery_source().deliveries(merchant_id, campaign_id, None, None)
    reaches = [Reach(d.customer_id, campaign_id, d.run_id, d.at, d.status is DeliveryStatus.HELD_OUT,
                     d.coupon_instance_ids, window_days)
               for d in deliveries if d.at and d.status in (DeliveryStatus.REACHED, DeliveryStatus.HELD_OUT)]
    wiring.reach_log().record_reaches(merchant_id, reaches)
    return len(reaches)


def test_holdout_campaign_report_lift_matches_a_hand_computation(api, merchant, clock, runtime):
    # 120 at 50 %: each arm has ≥ 30 customers whatever the (random) campaign id hashes to (P < 1e-6)
    ids = [f"c{i:03d}" for i in range(120)]
    _post(api, merchant, "/v1/customers/batch", {"items": [{"customer_id": c, "nickname": c} for c in ids]})
    coupon = _post(api, merchant, "/v1/coupons", {
        "name": "10 off", "kind": "store_threshold", "threshold_fen": 1000, "discount_fen": 100,
        "validity": {"kind": "relative", "days": 30}, "claim_window": {"kind": "any_time"}, "stock": 1000})
    cid = _post(api, merchant, "/v1/campaigns", {
        "name": "Holdout demo", "target": {"kind": "customers", "customer_ids": ids},
        "action": {"channel": "wallet", "coupons": [{"coupon_id": coupon["coupon_id"], "quantity": 1}]},
        "schedule": {"kind": "once", "at": None}, "attribution_window_days": 7, "holdout_percent": 50})["campaign_id"]
    _post(api, merchant, f"/v1/campaigns/{cid}/activate", {})
    sent_at = clock.now
    runtime.set_time(sent_at)
    set_watermark(sent_at)  # other tests moved the tick's watermark: catch up one minute, not days
    runtime.tick(sent_at)
    runtime.drain()
    recorded = wiring.reach_log().get_many(merchant.id, ids)  # dispatch recorded every reach and holdout
    assert sorted(recorded) == ids and {len(r) for r in recorded.values()} == {1}
    assert record_reaches_from_ledger(merchant.id, cid, 7) == 120
    assert wiring.reach_log().get_many(merchant.id, ids) == recorded
    deliveries = {d.customer_id: d for d in wiring.delivery_source().deliveries(merchant.id, cid, None, None)}
    treated = sorted(c for c, d in deliveries.items() if d.status is DeliveryStatus.REACHED)
    control = sorted(c for c, d in deliveries.items() if d.status is DeliveryStatus.HELD_OUT)
    assert len(treated) + len(control) == 120 and len(treated) >= 30 and len(control) >= 30
    tally = TallyReader(wiring.client("dynamodb")).totals(merchant.id, cid)  # counted as the chunks settled
    assert (tally.get(TARGETED), tally.get(REACHED), tally.get(HELD_OUT)) == (120, len(treated), len(control))
    assert (tally.get(ISSUED), tally.get(CLAIMED), tally.get(CLAIMERS)) == (len(treated),) * 3

    later = sent_at + timedelta(days=2)
    clock.set(later)
    runtime.set_time(later)
    buyers = treated[:15] + control[:6]
    items = [{"order_id": f"o-{c}", "customer_id": c, "paid_at": to_iso(sent_at + timedelta(days=1)),
              "amount_fen": 3000, "discount_fen": 0} for c in buyers]
    first = treated[0]
    items[0]["coupon_instance_id"] = deliveries[first].coupon_instance_ids[0]
    items.append({"order_id": "o-late", "customer_id": treated[16], "paid_at": to_iso(sent_at + timedelta(days=8)),
                  "amount_fen": 999})  # outside the 7-day window: not attributed
    _post(api, merchant, "/v1/orders/batch", {"items": items})
    runtime.drain()

    body = api.get(f"/v1/campaigns/{cid}/report", token=merchant.token).json
    assert body["funnel"] == {"targeted": 120, "held_out": len(control), "reached": len(treated), "ordered": 15,
                              "paid": 15}
    assert body["revenue"]["orders"] == 15 and body["revenue"]["gmv_fen"] == 45_000
    assert body["revenue"]["coupon_orders"] == 1 and body["revenue"]["control_orders"] == 6
    assert body["coupons"]["issued"] == len(treated) and body["coupons"]["claimers"] == len(treated)
    # Hand computation of the two-proportion interval.
    p1, p2 = 15 / len(treated), 6 / len(control)
    se = math.sqrt(p1 * (1 - p1) / len(treated) + p2 * (1 - p2) / len(control))
    lift = body["lift"]
    assert lift["status"] == "ok" and (lift["treated_conversions"], lift["control_conversions"]) == (15, 6)
    assert abs(lift["difference"] - (p1 - p2)) < 1e-6
    assert abs(lift["ci_low"] - (p1 - p2 - 1.959964 * se)) < 1e-5
    assert abs(lift["ci_high"] - (p1 - p2 + 1.959964 * se)) < 1e-5

    recipients = api.get(f"/v1/campaigns/{cid}/recipients?status=converted&limit=200", token=merchant.token).json
    assert len(recipients["items"]) == 21
    mine = next(i for i in recipients["items"] if i["customer_id"] == first)
    # The order named the coupon: the redemption hook (ahead of attribution on the stream) redeemed it.
    assert mine["status"] == "reached" and mine["coupons"][0]["status"] == "redeemed" and mine["amount_fen"] == 3000
