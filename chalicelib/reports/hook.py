"""The attribution ActivityHook: per stream batch, attribute or reverse orders and count reach churn, exactly once."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable
from typing import Any

from chalicelib.activity.consumer import Change
from chalicelib.core.clock import Clock, to_iso
from chalicelib.dispatch.reaches import Reach
from chalicelib.reports.attribution import (
    CHURN_EVENTS,
    Decision,
    Stored,
    attribute,
    churn_fact,
    coupon_ids_to_look_up,
    decide,
    order_facts,
    settled,
)
from chalicelib.reports.model import OrderFacts
from chalicelib.reports.ports import CouponSource, ReachPort, StatsPort

log = logging.getLogger(__name__)
COUNTER_SHARDS = 4  # counter items per campaign-day, so concurrent stream shards rarely contend for one item
REDECIDE_ROUNDS = 3


class AttributionHook:
    """One BatchGetItem of reaches per batch (plus coupon / prior-state reads only when needed), then
    conditional per-order writes with their counter deltas in the same transactions."""

    def __init__(self, reaches: ReachPort, stats: StatsPort, coupons: CouponSource,
                 timezone_of: Callable[[str], str], clock: Clock) -> None:
        self._reaches = reaches
        self._stats = stats
        self._coupons = coupons
        self._tz = timezone_of  # cached per process by the wiring (one settings read a minute, not per batch)
        self._clock = clock

    def after_batch(self, merchant_id: str, changes: list[Change]) -> None:
        first_old: dict[str, dict[str, Any] | None] = {}
        last_new: dict[str, dict[str, Any]] = {}
        sequences: dict[str, str] = {}
        events: list[dict[str, Any]] = []
        for change in changes:
            if change.new is None:
                continue
            if change.kind == "ORDER":
                order_id = str(change.new["order_id"])
                first_old.setdefault(order_id, change.old)
                last_new[order_id] = change.new
                sequences[order_id] = change.sequence
            elif change.new.get("type") in CHURN_EVENTS:
                events.append(change.new)
        if not last_new and not events:
            return
        orders = {oid: order_facts(doc) for oid, doc in last_new.items()}
        # A first insert has nothing stored (assumed; the conditional write checks it); updates read their item,
        # and those already reflecting this state (a re-sent or replayed order) need no reaches at all.
        stored = self._stats.get_attributions(merchant_id, [o for o, old in first_old.items() if old is not None])
        orders = {oid: o for oid, o in orders.items() if not settled(o, stored.get(oid), sequences[oid])}
        if not orders and not events:
            return
        customers = {o.customer_id for o in orders.values()} | {str(e["customer_id"]) for e in events}
        by_customer = self._reaches.get_many(merchant_id, customers)
        tz = self._tz(merchant_id)
        decisions = self._decide(merchant_id, orders, sequences, by_customer, stored, tz)
        churns = [f for f in (churn_fact(e, by_customer.get(str(e["customer_id"]), []), tz) for e in events) if f]
        if not decisions and not churns:
            return
        shard = zlib.crc32(changes[0].sequence.encode()) % COUNTER_SHARDS
        stamp = to_iso(self._clock())
        rejected = self._stats.apply(merchant_id, decisions, churns, shard, stamp)
        for _ in range(REDECIDE_ROUNDS):
            if not rejected.orders:
                return
            # Stored state differed from what we assumed (a replayed insert, or a concurrent writer): re-read.
            again = {oid: orders[oid] for oid in rejected.orders}
            stored = self._stats.get_attributions(merchant_id, again)
            decisions = self._decide(merchant_id, again, sequences, by_customer, stored, tz)
            rejected = self._stats.apply(merchant_id, decisions, [], shard, stamp)
        if rejected.orders:
            raise RuntimeError(f"attribution of orders {sorted(rejected.orders)} kept changing underneath")

    def _decide(self, merchant_id: str, orders: dict[str, OrderFacts], sequences: dict[str, str],
                by_customer: dict[str, list[Reach]], stored: dict[str, Stored], tz: str) -> list[Decision]:
        wanted: set[str] = set()
        for order in orders.values():
            wanted |= coupon_ids_to_look_up(order, by_customer.get(order.customer_id, []))
        coupons = self._coupons.instances(merchant_id, wanted) if wanted else {}
        decisions = []
        for order_id, order in sorted(orders.items()):
            reaches = by_customer.get(order.customer_id, [])
            decision = decide(order, stored.get(order_id), attribute(order, reaches, coupons, tz),
                              sequences.get(order_id, ""))
            if decision is not None:
                decisions.append(decision)
        return decisions

