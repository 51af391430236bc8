"""Pure attribution rules: last reach in the window, coupon campaigns, reversal deltas, control arm, reach churn."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.core.clock import parse_iso
from chalicelib.dispatch.reaches import Reach
from chalicelib.reports.model import (
    NO_ATTRIBUTION,
    Arm,
    Attribution,
    ChurnFact,
    CounterKey,
    Counts,
    CouponFact,
    OrderFacts,
    Via,
)

CHURN_EVENTS = ("unsubscribe", "unfollow")


def local_day(instant: datetime, tz: str) -> str:
    """The merchant-local calendar day of an instant, ISO `YYYY-MM-DD`."""
    return instant.astimezone(ZoneInfo(tz)).date().isoformat()


def order_facts(doc: Mapping[str, Any]) -> OrderFacts:
    """An ingested order document (customers.schemas.OrderIn dumped) as attribution sees it."""
    return OrderFacts(str(doc["order_id"]), str(doc["customer_id"]), parse_iso(str(doc["paid_at"])),
                      int(doc["amount_fen"]), int(doc.get("discount_fen") or 0), str(doc.get("status") or "paid"),
                      doc.get("coupon_instance_id") or None)


def last_reach(reaches: Iterable[Reach], instant: datetime, *, include_held_out: bool = True) -> Reach | None:
    """The latest reach whose window [at, at + window] holds `instant` (ties: treated, then ids, for determinism)."""
    eligible = [t for t in reaches if t.covers(instant) and (include_held_out or not t.held_out)]
    return max(eligible, key=lambda t: (t.at, not t.held_out, t.campaign_id, t.run_id), default=None)


def coupon_owner(order: OrderFacts, reaches: Sequence[Reach], coupons: Mapping[str, CouponFact]
                 ) -> tuple[str, str] | None:
    """(campaign, run) whose coupon the order redeems: from the customer's reaches, else the coupon itself."""
    wanted = order.coupon_instance_id
    if not wanted:
        return None
    for reach in sorted(reaches, key=lambda t: t.at, reverse=True):
        if wanted in reach.coupon_instance_ids and not reach.held_out:
            return reach.campaign_id, reach.run_id
    fact = coupons.get(wanted)
    if fact is not None and fact.campaign_id and fact.customer_id == order.customer_id:
        return fact.campaign_id, fact.run_id or ""
    return None


def coupon_ids_to_look_up(order: OrderFacts, reaches: Sequence[Reach]) -> set[str]:
    """The order's coupon instance when the reaches do not say which campaign issued it."""
    wanted = order.coupon_instance_id
    if not wanted or any(wanted in t.coupon_instance_ids for t in reaches):
        return set()
    return {wanted}


def attribute(order: OrderFacts, reaches: Sequence[Reach], coupons: Mapping[str, CouponFact], tz: str
              ) -> Attribution | None:
    """Which campaign the order belongs to, and on which arm.

    A redeemed campaign coupon wins whatever the window. Otherwise the last reach whose window holds paid_at
    (held-out reaches compete like the others, so both arms lose orders to later campaigns alike): a held-out
    last reach makes a control conversion. Refunded / cancelled orders keep their attribution uncounted.
    """
    owner = coupon_owner(order, reaches, coupons)
    if owner is not None:
        campaign_id, run_id = owner
        arm, via = Arm.TREATED, Via.COUPON
    else:
        reach = last_reach(reaches, order.paid_at)
        if reach is None:
            return None
        campaign_id, run_id = reach.campaign_id, reach.run_id
        arm, via = (Arm.CONTROL if reach.held_out else Arm.TREATED), Via.LAST_REACH
    return Attribution(order.order_id, order.customer_id, campaign_id, run_id, arm, via,
                       local_day(order.paid_at, tz), order.paid_at, order.amount_fen, order.discount_fen, order.paid,
                       order.signature)


def contribution(attr: Attribution | None) -> dict[CounterKey, Counts]:
    """What one attribution adds to its campaign-day counters (nothing unless counted)."""
    if attr is None or not attr.counted:
        return {}
    if attr.arm is Arm.CONTROL:
        counts = Counts(ctl_orders=1, ctl_gmv=attr.amount_fen)
    else:
        counts = Counts(orders=1, gmv=attr.amount_fen, discount=attr.discount_fen,
                        coupon_orders=1 if attr.via is Via.COUPON else 0)
    return {(attr.campaign_id, attr.day): counts}


def transition(before: Attribution | None, after: Attribution | None) -> dict[CounterKey, Counts]:
    """Counter deltas moving an order from `before` to `after` (a refund reverses on the day first counted)."""
    merged: dict[CounterKey, Counts] = {}
    for key, counts in contribution(after).items():
        merged[key] = merged.get(key, Counts()) + counts
    for key, counts in contribution(before).items():
        merged[key] = merged.get(key, Counts()) - counts
    return {key: counts for key, counts in merged.items() if not counts.is_zero}


@dataclass(frozen=True)
class Stored:
    """The per-order attribution item as last written: an attribution, or a tombstone (None)."""

    attribution: Attribution | None
    order_signature: str
    sequence: str = ""  # the stream sequence number of the order change that wrote it

    @property
    def signature(self) -> str:
        return self.attribution.signature if self.attribution else NO_ATTRIBUTION


@dataclass(frozen=True)
class Decision:
    """A write to make: put `after` if the stored item still has `expected` (None: absent); apply `deltas`."""

    order_id: str
    expected: str | None
    after: Attribution | None
    order_signature: str
    deltas: dict[CounterKey, Counts]
    sequence: str = ""


def replayed(stored_sequence: str, sequence: str) -> bool:
    """True when a stream record is not newer than the one that wrote the stored state (numeric sequences)."""
    if not (stored_sequence.isdigit() and sequence.isdigit()):
        return False
    return int(sequence) <= int(stored_sequence)


def settled(order: OrderFacts, stored: Stored | None, sequence: str = "") -> bool:
    """True when the stored item already reflects this order state (or a newer one): nothing to decide."""
    return stored is not None and (stored.order_signature == order.signature or replayed(stored.sequence, sequence))


def decide(order: OrderFacts, stored: Stored | None, after: Attribution | None, sequence: str = ""
           ) -> Decision | None:
    """The transition from what is stored to `after`, or None when there is nothing to write.

    The same order state seen again, or an older stream record replayed after a newer one was applied, is a
    no-op even if reaches changed since.
    """
    if settled(order, stored, sequence):
        return None
    before = stored.attribution if stored is not None else None
    if after is None and before is None:
        return None
    if after is not None and before is not None and after.signature == before.signature:
        return None
    return Decision(order.order_id, stored.signature if stored is not None else None, after, order.signature,
                    transition(before, after), sequence)


def churn_fact(doc: Mapping[str, Any], reaches: Sequence[Reach], tz: str) -> ChurnFact | None:
    """An unsubscribe / unfollow within the window after a (not held-out) reach, blamed on the last one."""
    kind = doc.get("type")
    if kind not in CHURN_EVENTS:
        return None
    at = parse_iso(str(doc["at"]))
    reach = last_reach(reaches, at, include_held_out=False)
    if reach is None:
        return None
    return ChurnFact(str(doc["customer_id"]), reach.campaign_id, reach.run_id, str(kind), str(doc["event_id"]), at,
                     local_day(at, tz))


def churn_delta(fact: ChurnFact) -> dict[CounterKey, Counts]:
    counts = Counts(unsubscribes=1) if fact.kind == "unsubscribe" else Counts(unfollows=1)
    return {(fact.campaign_id, fact.day): counts}
