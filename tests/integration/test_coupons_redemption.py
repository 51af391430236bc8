"""The redemption hook: orders from the activity stream redeem the coupon they carry, once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.activity.consumer import Change
from chalicelib.coupons.model import InstanceStatus

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
STORE = {"name": "满30减5", "kind": "store_threshold", "threshold_fen": 3000, "discount_fen": 500,
         "validity": {"kind": "relative", "days": 7}, "claim_window": {"kind": "issue_day"}, "stock": 5}


def order(merchant: Any, oid: str, instance_id: str, paid: int, discount: int = 500, status: str = "paid") -> Change:
    doc = {"order_id": oid, "customer_id": "c1", "paid_at": "2026-11-23T06:00:00Z", "amount_fen": paid,
           "discount_fen": discount, "status": status, "coupon_instance_id": instance_id,
           "items": [{"item_id": "sku1", "quantity": 1, "price_fen": paid + discount}]}
    return Change(merchant.id, "ORDER", doc, None, "1")


def test_order_redeems_its_coupon_once_and_a_second_order_is_rejected(api: Any, merchant: Any, clock: Any) -> None:
    from chalicelib import wiring
    cid = api.post("/v1/coupons", STORE, token=merchant.token).json["coupon_id"]
    inst = wiring.wallet_service().issue_coupons(merchant.id, "c1", cid, 1, campaign_id="cmp", run_id="r",
                                                 delivery_key="k", direct=True, now=NOW)[0]
    hook = wiring.redemption_hook()
    # Paid 2500 after 500 off: the order was worth 3000, which meets the threshold.
    hook.after_batch(merchant.id, [order(merchant, "o1", inst.instance_id, 2500)])
    assert [(r.ok, r.discount_fen, r.campaign_id) for r in hook.last] == [(True, 500, "cmp")]
    hook.after_batch(merchant.id, [order(merchant, "o1", inst.instance_id, 2500),
                                   order(merchant, "o2", inst.instance_id, 9000)])
    assert [(r.ok, r.replayed, r.reason) for r in hook.last] == [(True, True, None), (False, False, "already_redeemed")]
    stored = wiring.wallet_store().get_instance(merchant.id, inst.instance_id)
    assert stored is not None and (stored.status, stored.order_id) == (InstanceStatus.REDEEMED, "o1")


def test_refunds_and_orders_without_a_coupon_are_ignored(api: Any, merchant: Any, clock: Any) -> None:
    from chalicelib import wiring
    cid = api.post("/v1/coupons", STORE, token=merchant.token).json["coupon_id"]
    inst = wiring.wallet_service().issue_coupons(merchant.id, "c1", cid, 1, campaign_id=None, run_id=None,
                                                 delivery_key="k", direct=True, now=NOW)[0]
    hook = wiring.redemption_hook()
    plain = Change(merchant.id, "ORDER", {"order_id": "o0", "customer_id": "c1", "status": "paid"}, None, "1")
    event = Change(merchant.id, "EVENT", {"event_id": "e1", "customer_id": "c1"}, None, "2")
    hook.after_batch(merchant.id, [plain, event, order(merchant, "o3", inst.instance_id, 2500, status="refunded")])
    assert hook.last == []
    stored = wiring.wallet_store().get_instance(merchant.id, inst.instance_id)
    assert stored is not None and stored.status is InstanceStatus.CLAIMED
