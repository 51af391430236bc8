"""Wallet use cases: issue coupons (stock-safe, retry-safe), claim, list a wallet, redeem with an order."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from chalicelib.core.clock import Clock
from chalicelib.core.errors import Conflict, Invalid, NotFound
from chalicelib.core.ports import Repo
from chalicelib.coupons import terms as coupon_terms
from chalicelib.coupons.issue import instance_id_for, new_instances
from chalicelib.coupons.model import (
    MAX_PER_ISSUE,
    CouponInstance,
    CouponTerms,
    InstanceStatus,
    IssueRefused,
    IssueRequest,
    OrderLine,
    RedeemResult,
    WalletConflict,
)

log = logging.getLogger(__name__)

CLAIM_REASONS = {
    "already_claimed": "this coupon has already been claimed",
    "already_redeemed": "this coupon has already been used",
    "claim_window_closed": "the claim window of this coupon has closed",
}
# Stored statuses to read for each requested (effective) status; expired is computed, never stored.
STORED_FOR: dict[InstanceStatus | None, tuple[InstanceStatus, ...]] = {
    None: (),
    InstanceStatus.ISSUED: (InstanceStatus.ISSUED,),
    InstanceStatus.CLAIMED: (InstanceStatus.CLAIMED,),
    InstanceStatus.REDEEMED: (InstanceStatus.REDEEMED,),
    InstanceStatus.EXPIRED: (InstanceStatus.ISSUED, InstanceStatus.CLAIMED),
}


class WalletPort(Protocol):
    def get_instances(self, merchant_id: str, instance_ids: Iterable[str]) -> dict[str, CouponInstance]: ...

    def get_instance(self, merchant_id: str, instance_id: str) -> CouponInstance | None: ...

    def issue(self, req: IssueRequest) -> None: ...

    def put_missing(self, instances: Iterable[CouponInstance]) -> None: ...

    def replace(self, before: CouponInstance, after: CouponInstance, also: Sequence[Any] = ()) -> None: ...

    def wallet(self, merchant_id: str, customer_id: str, statuses: tuple[InstanceStatus, ...], limit: int,
               start_key: dict[str, Any] | None) -> tuple[list[CouponInstance], dict[str, Any] | None]: ...


def order_lines(items: Iterable[OrderLine | Mapping[str, Any] | str]) -> list[OrderLine]:
    """Order lines from what the caller has: OrderLine, an ingested item dict, or a bare item id."""
    lines = []
    for item in items:
        if isinstance(item, OrderLine):
            lines.append(item)
        elif isinstance(item, str):
            lines.append(OrderLine(item))
        else:
            lines.append(OrderLine(str(item["item_id"]), int(item.get("quantity") or 1),
                                   int(item.get("price_fen") or 0)))
    return lines


class WalletService:
    """Coupon instances of every merchant; the clock and the merchant's zone are injected."""

    def __init__(self, store: WalletPort, coupons: Repo, timezone_of: Callable[[str], str], clock: Clock,
                 claim_ops: Callable[[CouponInstance], list[Any]] | None = None) -> None:
        self._claim_ops = claim_ops  # guardrails keep claims as risk facts, written with the claim
        self._store = store
        self._coupons = coupons
        self._tz = timezone_of
        self._clock = clock

    def issue_coupons(self, merchant_id: str, customer_id: str, coupon_id: str, quantity: int, *,
                      campaign_id: str | None, run_id: str | None, delivery_key: str, direct: bool,
                      now: datetime | None = None) -> list[CouponInstance]:
        """Issue `quantity` coupons of one template: claimed (direct to wallet) or claimable (by message).

        Stock and the per-customer limit hold under concurrency (one transaction with conditional counters);
        the same delivery_key returns the instances issued the first time. Raises IssueRefused(why) with why
        in coupon_not_found, coupon_expired, out_of_stock, customer_limit (conflict: retry).
        """
        if not 1 <= quantity <= MAX_PER_ISSUE:
            raise Invalid(f"one issue carries 1 to {MAX_PER_ISSUE} coupons", field="quantity")
        if not delivery_key:
            raise Invalid("a delivery key is required", field="delivery_key")
        ids = [instance_id_for(merchant_id, coupon_id, delivery_key, i) for i in range(quantity)]
        done = self._replayed(merchant_id, ids)
        if done is not None:
            return done
        record = self._coupons.get(merchant_id, coupon_id)
        if record is None:
            raise IssueRefused("coupon_not_found", f"no coupon {coupon_id}", field="coupon_id")
        now = now or self._clock()
        tz = self._tz(merchant_id)
        terms = CouponTerms.from_data(record.data)
        if not coupon_terms.issuable(terms, now, tz):
            raise IssueRefused("coupon_expired", "the coupon's validity has ended", field="coupon_id")
        stock = int(record.data["stock"])
        limit = record.data.get("per_customer_limit")
        if quantity > stock:
            raise IssueRefused("out_of_stock", f"only {stock} coupons exist in stock", field="coupon_id")
        if limit is not None and quantity > int(limit):
            raise IssueRefused("customer_limit", f"at most {limit} per customer", field="coupon_id")
        instances = new_instances(merchant_id, coupon_id, terms, customer_id, quantity, delivery_key=delivery_key,
                                  direct=direct, now=now, tz=tz, campaign_id=campaign_id, run_id=run_id)
        try:
            self._store.issue(IssueRequest(merchant_id, customer_id, coupon_id, quantity, stock,
                                           None if limit is None else int(limit), instances))
        except WalletConflict as exc:
            if exc.what == "exists":
                again = self._replayed(merchant_id, ids)
                if again is not None:
                    return again
            if exc.what == "customer_limit":
                raise IssueRefused("customer_limit", f"the customer already holds the limit of {limit}",
                                   field="coupon_id") from exc
            if exc.what == "stock":
                raise IssueRefused("out_of_stock", "the coupon's stock is used up", field="coupon_id") from exc
            raise IssueRefused("conflict", "a concurrent write interfered; retry the issue", field="coupon_id") from exc
        return instances

    def _replayed(self, merchant_id: str, ids: list[str]) -> list[CouponInstance] | None:
        """The instances of an issue already done (completing any put the first attempt left out)."""
        anchor = self._store.get_instance(merchant_id, ids[0])  # the first instance is written in the transaction
        if anchor is None:
            return None
        found = self._store.get_instances(merchant_id, ids[1:]) if len(ids) > 1 else {}
        found[anchor.instance_id] = anchor
        missing = [anchor.with_(instance_id=i) for i in ids if i not in found]
        if missing:
            self._store.put_missing(missing)
        return [found.get(i) or anchor.with_(instance_id=i) for i in ids]

    def get(self, merchant_id: str, instance_id: str) -> CouponInstance:
        inst = self._store.get_instance(merchant_id, instance_id)
        if inst is None:
            raise NotFound(f"no coupon instance {instance_id}", field="path.instance_id")
        return inst

    def claim(self, merchant_id: str, instance_id: str, customer_id: str) -> CouponInstance:
        """Claim a claimable coupon: only its customer, only once, only inside the claim window."""
        for _ in range(4):
            inst = self.get(merchant_id, instance_id)
            now = self._clock()
            refusal = coupon_terms.claim_refusal(inst, customer_id, now)
            if refusal == "wrong_customer":
                raise NotFound(f"customer {customer_id} holds no coupon {instance_id}", field="body.customer_id")
            if refusal is not None:
                raise Conflict(f"{refusal}: {CLAIM_REASONS[refusal]}", field="path.instance_id")
            start, end = coupon_terms.validity_from_claim(inst.terms, now, self._tz(merchant_id))
            claimed = inst.with_(status=InstanceStatus.CLAIMED, claimed_at=now, valid_from=start, valid_until=end)
            try:
                self._store.replace(inst, claimed, self._claim_ops(claimed) if self._claim_ops else ())
            except WalletConflict:
                continue  # raced with another claim, a redemption or the risk facts: re-read and explain
            return claimed
        raise Conflict("already_claimed: this coupon changed while claiming", field="path.instance_id")

    def wallet(self, merchant_id: str, customer_id: str, status: InstanceStatus | None, limit: int,
               start_key: dict[str, Any] | None
               ) -> tuple[list[tuple[CouponInstance, InstanceStatus]], dict[str, Any] | None]:
        """A customer's coupons newest first with their effective status (expired computed from the clock)."""
        found, last = self._store.wallet(merchant_id, customer_id, STORED_FOR[status], limit, start_key)
        now = self._clock()
        rows = [(inst, coupon_terms.effective_status(inst, now)) for inst in found]
        return [(i, s) for i, s in rows if status is None or s is status], last

    def instances(self, merchant_id: str, instance_ids: Iterable[str]) -> dict[str, CouponInstance]:
        """Several instances by id in one read (BatchGetItem); unknown ids are absent."""
        ids = set(instance_ids)
        return self._store.get_instances(merchant_id, ids) if ids else {}

    def redeem(self, merchant_id: str, instance_id: str, order_id: str, order_amount_fen: int,
               items: Iterable[OrderLine | Mapping[str, Any] | str], paid_at: datetime, *,
               customer_id: str | None = None, known: CouponInstance | None = None) -> RedeemResult:
        """Mark an instance redeemed by an order, exactly once.

        `order_amount_fen` is the order's value before this coupon's discount (the threshold applies to it).
        The same order delivered again is a no-op (`replayed`); another order redeeming the same instance is
        refused with reason `already_redeemed` and never counted. `known` is the instance as just read (from
        `instances`, for a whole stream batch): the conditional write still checks it, a race re-reads.
        """
        lines = order_lines(items)
        for attempt in range(2):
            inst = known if attempt == 0 and known is not None else self._store.get_instance(merchant_id, instance_id)
            if inst is None:
                return RedeemResult(instance_id, order_id, False, "not_found")
            if customer_id is not None and inst.customer_id != customer_id:
                return _result(inst, order_id, "wrong_customer")
            if inst.status is InstanceStatus.REDEEMED and inst.order_id == order_id:
                return _result(inst, order_id, None, inst.discount_fen or 0, replayed=True)
            refusal = coupon_terms.redemption_refusal(inst, order_amount_fen, lines, paid_at)
            if refusal is not None:
                log.warning("redemption refused", extra={"merchant_id": merchant_id, "instance_id": instance_id,
                                                         "order_id": order_id, "reason": refusal,
                                                         "redeemed_by": inst.order_id})
                return _result(inst, order_id, refusal)
            discount = coupon_terms.discount_for(inst.terms, order_amount_fen, lines)
            done = inst.with_(status=InstanceStatus.REDEEMED, redeemed_at=paid_at, order_id=order_id,
                              discount_fen=discount)
            try:
                self._store.replace(inst, done)
            except WalletConflict:
                continue  # another redemption won the race: re-read and classify
            return _result(inst, order_id, None, discount)
        return RedeemResult(instance_id, order_id, False, "already_redeemed")



def _result(inst: CouponInstance, order_id: str, reason: str | None, discount_fen: int = 0, *,
            replayed: bool = False) -> RedeemResult:
    return RedeemResult(inst.instance_id, order_id, reason is None, reason, discount_fen, replayed,
                        inst.campaign_id, inst.run_id, inst.coupon_id)
