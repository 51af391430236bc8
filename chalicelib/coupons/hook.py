"""The redemption ActivityHook: an order carrying coupon_instance_id redeems that coupon, exactly once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

from chalicelib.activity.consumer import Change
from chalicelib.core.clock import parse_iso
from chalicelib.coupons.model import CouponInstance, OrderLine, RedeemResult

log = logging.getLogger(__name__)
PURCHASE = frozenset({"paid", "completed"})


class Redeemer(Protocol):
    def instances(self, merchant_id: str, instance_ids: Iterable[str]) -> dict[str, CouponInstance]: ...

    def redeem(self, merchant_id: str, instance_id: str, order_id: str, order_amount_fen: int,
               items: Iterable[OrderLine | Mapping[str, Any] | str], paid_at: datetime, *,
               customer_id: str | None = None, known: CouponInstance | None = None) -> RedeemResult: ...


class RedemptionHook:
    """Runs after customer metrics are folded; re-delivered orders are no-ops (redeem is idempotent by order)."""

    def __init__(self, wallet: Redeemer,
                 on_redeemed: Callable[[str, list[tuple[str, datetime]]], None] | None = None) -> None:
        self._wallet = wallet
        # The batch's (customer, paid_at) of every redemption that holds, replays included (the callee is
        # idempotent): guardrails clear the risk rule only for coupons really redeemed, never for a refused one.
        self._on_redeemed = on_redeemed
        self.last: list[RedeemResult] = []  # the last batch's results (observability and tests)

    def after_batch(self, merchant_id: str, changes: list[Change]) -> None:
        results = []
        held: list[tuple[str, datetime]] = []
        # A refund or cancellation never redeems (an already redeemed coupon stays used).
        docs = [c.new for c in changes if c.kind == "ORDER" and c.new and c.new.get("coupon_instance_id")
                and c.new.get("status") in PURCHASE]
        # One read for the batch's coupons (none when no order carries one); each write stays conditional.
        known = self._wallet.instances(merchant_id, {str(d["coupon_instance_id"]) for d in docs}) if docs else {}
        for doc in docs:
            # amount_fen is what was paid; the coupon's threshold applies to the value before its discount.
            gross = int(doc["amount_fen"]) + int(doc.get("discount_fen") or 0)
            result = self._wallet.redeem(merchant_id, doc["coupon_instance_id"], doc["order_id"], gross,
                                         list(doc.get("items") or ()), parse_iso(doc["paid_at"]),
                                         customer_id=doc["customer_id"], known=known.get(doc["coupon_instance_id"]))
            if not result.ok:
                log.warning("coupon redemption rejected", extra={
                    "merchant_id": merchant_id, "order_id": result.order_id, "instance_id": result.instance_id,
                    "reason": result.reason})
            elif doc.get("paid_at"):
                held.append((str(doc["customer_id"]), parse_iso(doc["paid_at"])))
            results.append(result)
        self.last = results
        if held and self._on_redeemed is not None:
            self._on_redeemed(merchant_id, held)
