"""PynamoDB storage of per-order attributions, churn marks and campaign-day counters in the stats table."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.expressions.condition import Condition
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.core.clock import parse_iso, to_iso
from chalicelib.core.dynamo import commit, table_meta
from chalicelib.core.tx import TX_MAX_ITEMS, TxCancelled, TxOp
from chalicelib.reports.attribution import CHURN_EVENTS, Decision, Stored, churn_delta
from chalicelib.reports.model import NO_ATTRIBUTION, Arm, Attribution, ChurnFact, CounterKey, Counts, Via

ATTR = "ATTR"
COUNTER_FIELDS = tuple(Counts().as_dict())


class ByGsi1(GlobalSecondaryIndex["StatsItem"]):  # type: ignore[no-untyped-call]
    """gsi1: a campaign's attributions `{m}#CATTR#{campaign}` / churn `{m}#CCHURN#{campaign}` by customer, and
    every campaign-day counter of a merchant `{m}#DSTAT` / `{day}#{campaign}#{shard}`."""

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class StatsItem(Model):
    """Attribution (`{m}#ATTR#{order}` / ATTR), churn (`{m}#CHURN#{campaign}#{customer}` / kind) and counter
    (`{m}#CSTAT#{campaign}` / `D#{day}#{shard}`) items; the reach log item lives in reach_log.py."""

    Meta = table_meta("stats")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute(null=True)
    order_id = UnicodeAttribute(null=True)
    customer_id = UnicodeAttribute(null=True)
    campaign_id = UnicodeAttribute(null=True)
    run_id = UnicodeAttribute(null=True)
    arm = UnicodeAttribute(null=True)
    via = UnicodeAttribute(null=True)
    day = UnicodeAttribute(null=True)
    at = UnicodeAttribute(null=True)
    amount = NumberAttribute(null=True)
    disc = NumberAttribute(null=True)
    counted = NumberAttribute(null=True)
    sig = UnicodeAttribute(null=True)
    osig = UnicodeAttribute(null=True)
    seq = UnicodeAttribute(null=True)
    event_id = UnicodeAttribute(null=True)
    orders = NumberAttribute(null=True)
    gmv = NumberAttribute(null=True)
    discount = NumberAttribute(null=True)
    coupon_orders = NumberAttribute(null=True)
    ctl_orders = NumberAttribute(null=True)
    ctl_gmv = NumberAttribute(null=True)
    unsubscribes = NumberAttribute(null=True)
    unfollows = NumberAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    by_gsi1 = ByGsi1()


def attr_pk(merchant_id: str, order_id: str) -> str:
    return f"{merchant_id}#ATTR#{order_id}"


def churn_pk(merchant_id: str, campaign_id: str, customer_id: str) -> str:
    return f"{merchant_id}#CHURN#{campaign_id}#{customer_id}"


def counter_pk(merchant_id: str, campaign_id: str) -> str:
    return f"{merchant_id}#CSTAT#{campaign_id}"


def _attr_item(merchant_id: str, d: Decision, stamp: str) -> StatsItem:
    item = StatsItem(attr_pk(merchant_id, d.order_id), ATTR, kind=ATTR, order_id=d.order_id, osig=d.order_signature,
                     sig=d.after.signature if d.after else NO_ATTRIBUTION, seq=d.sequence or None, updated_at=stamp)
    a = d.after
    if a is not None:
        item.customer_id, item.campaign_id, item.run_id = a.customer_id, a.campaign_id, a.run_id
        item.arm, item.via, item.day, item.at = a.arm.value, a.via.value, a.day, to_iso(a.paid_at)
        item.amount, item.disc, item.counted = a.amount_fen, a.discount_fen, 1 if a.counted else 0
        item.gsi1pk, item.gsi1sk = f"{merchant_id}#CATTR#{a.campaign_id}", f"{a.customer_id}#{a.order_id}"
    return item


def _attribution(item: StatsItem) -> Attribution | None:
    if not item.campaign_id:
        return None
    return Attribution(item.order_id or "", item.customer_id or "", item.campaign_id, item.run_id or "",
                       Arm(item.arm or "treated"), Via(item.via or "touch"), item.day or "", parse_iso(item.at or ""),
                       int(item.amount or 0), int(item.disc or 0), bool(item.counted), item.osig or "")


def _churn_item(merchant_id: str, f: ChurnFact, stamp: str) -> StatsItem:
    return StatsItem(churn_pk(merchant_id, f.campaign_id, f.customer_id), f.kind, kind="CHURN",
                     customer_id=f.customer_id, campaign_id=f.campaign_id, run_id=f.run_id, event_id=f.event_id,
                     at=to_iso(f.at), day=f.day, updated_at=stamp, gsi1pk=f"{merchant_id}#CCHURN#{f.campaign_id}",
                     gsi1sk=f"{f.customer_id}#{f.kind}")


def _counts(item: StatsItem) -> Counts:
    return Counts(**{name: int(getattr(item, name) or 0) for name in COUNTER_FIELDS})


@dataclass
class _Op:
    tag: str  # order id, or churn pk#kind
    item: StatsItem
    condition: Condition
    deltas: dict[CounterKey, Counts]


@dataclass
class Rejected:
    """Writes whose condition failed: orders changed since read (re-decide them), churn already counted."""

    orders: set[str] = field(default_factory=set)
    churns: int = 0


class StatsStore:
    """Conditional per-order writes and their counter deltas, one TransactWriteItems per ≤100 items."""

    def get_attributions(self, merchant_id: str, order_ids: Iterable[str]) -> dict[str, Stored]:
        keys = [(attr_pk(merchant_id, o), ATTR) for o in sorted(set(order_ids))]
        if not keys:
            return {}
        return {item.order_id or "": Stored(_attribution(item), item.osig or "", item.seq or "")
                for item in StatsItem.batch_get(keys, consistent_read=True)}

    def apply(self, merchant_id: str, decisions: Sequence[Decision], churns: Sequence[ChurnFact], shard: int,
              stamp: str) -> Rejected:
        """Write each decision only if its item still holds what it was decided from, each churn only once,
        and ADD the deltas of the writes that held to the campaign-day counters in the same transaction."""
        ops: list[_Op] = []
        for d in decisions:
            condition = (StatsItem.pk.does_not_exist() if d.expected is None else StatsItem.sig == d.expected)
            ops.append(_Op(d.order_id, _attr_item(merchant_id, d, stamp), condition, d.deltas))
        for f in churns:
            ops.append(_Op(f"#churn#{f.campaign_id}#{f.customer_id}#{f.kind}", _churn_item(merchant_id, f, stamp),
                           StatsItem.pk.does_not_exist(), churn_delta(f)))
        rejected = Rejected()
        for group in _groups(ops):
            for tag in self._commit(merchant_id, group, shard, stamp):
                if tag.startswith("#churn#"):
                    rejected.churns += 1
                else:
                    rejected.orders.add(tag)
        return rejected

    def _commit(self, merchant_id: str, ops: list[_Op], shard: int, stamp: str) -> list[str]:
        """Commit, dropping ops whose condition failed and retrying the rest; returns the dropped tags.

        The counter updates have no condition: another batch holding the same counter item is a conflict, which
        commit retries.
        """
        dropped: list[str] = []
        while ops:
            counters = [TxOp("update", StatsItem(counter_pk(merchant_id, campaign_id), f"D#{day}#{shard}"),
                             f"#counter#{campaign_id}#{day}", None,
                             _counter_actions(merchant_id, campaign_id, day, shard, counts, stamp))
                        for (campaign_id, day), counts in sorted(_sum(ops).items())]
            try:
                commit([*(TxOp("save", op.item, op.tag, op.condition) for op in ops), *counters])
                return dropped
            except TxCancelled as exc:
                failed = set(exc.failed)
                if not failed:
                    raise
                dropped += [op.tag for op in ops if op.tag in failed]
                ops = [op for op in ops if op.tag not in failed]
        return dropped

    # -- reads ------------------------------------------------------------------------------------
    def daily(self, merchant_id: str, campaign_id: str, day_from: str | None, day_to: str | None
              ) -> dict[str, Counts]:
        """The campaign's counters per local day (shards summed), days in [day_from, day_to]."""
        low, high = f"D#{day_from or '0000'}", f"D#{day_to or '9999'}#~"
        out: dict[str, Counts] = {}
        for item in StatsItem.query(counter_pk(merchant_id, campaign_id), StatsItem.sk.between(low, high),
                                    consistent_read=True):
            day = item.sk.split("#")[1]
            out[day] = out.get(day, Counts()) + _counts(item)
        return out

    def by_campaign(self, merchant_id: str, day_from: str, day_to: str) -> dict[str, Counts]:
        """Every campaign's counters summed over local days [day_from, day_to] (one gsi1 query)."""
        out: dict[str, Counts] = {}
        for item in StatsItem.by_gsi1.query(f"{merchant_id}#DSTAT", StatsItem.gsi1sk.between(day_from, f"{day_to}~")):
            campaign_id = item.campaign_id or ""
            out[campaign_id] = out.get(campaign_id, Counts()) + _counts(item)
        return out

    def attributions(self, merchant_id: str, campaign_id: str, first_customer: str | None = None,
                     last_customer: str | None = None) -> list[Attribution]:
        """The campaign's attributed orders, by customer (optionally customers in [first, last])."""
        condition = None
        if first_customer is not None and last_customer is not None:
            condition = StatsItem.gsi1sk.between(f"{first_customer}#", f"{last_customer}#~")
        items = StatsItem.by_gsi1.query(f"{merchant_id}#CATTR#{campaign_id}", condition)
        return [a for a in (_attribution(i) for i in items) if a is not None and a.campaign_id == campaign_id]

    def attributions_of(self, merchant_id: str, campaign_id: str, customer_ids: Iterable[str]
                        ) -> dict[str, list[Attribution]]:
        """The campaign's attributed orders of these customers (one Query each: a page's customers)."""
        out: dict[str, list[Attribution]] = {}
        for cid in sorted(set(customer_ids)):
            found = self.attributions(merchant_id, campaign_id, cid, cid)
            if found:
                out[cid] = found
        return out

    def churns_of(self, merchant_id: str, campaign_id: str, customer_ids: Iterable[str]) -> dict[str, list[str]]:
        """The churn kinds counted for these customers after the campaign reached them (one BatchGetItem)."""
        keys = [(churn_pk(merchant_id, campaign_id, cid), kind) for cid in sorted(set(customer_ids))
                for kind in CHURN_EVENTS]
        out: dict[str, list[str]] = {}
        for item in (StatsItem.batch_get(keys) if keys else ()):
            out.setdefault(item.customer_id or "", []).append(item.sk)
        return {c: sorted(kinds) for c, kinds in out.items()}

    def churns(self, merchant_id: str, campaign_id: str) -> list[ChurnFact]:
        return [ChurnFact(i.customer_id or "", campaign_id, i.run_id or "", i.sk, i.event_id or "",
                          parse_iso(i.at or ""), i.day or "")
                for i in StatsItem.by_gsi1.query(f"{merchant_id}#CCHURN#{campaign_id}")]


def _sum(ops: Iterable[_Op]) -> dict[CounterKey, Counts]:
    totals: dict[CounterKey, Counts] = {}
    for op in ops:
        for key, counts in op.deltas.items():
            totals[key] = totals.get(key, Counts()) + counts
    return {k: v for k, v in totals.items() if not v.is_zero}


def _groups(ops: list[_Op]) -> list[list[_Op]]:
    """Groups whose writes plus counter updates fit one transaction, ops with the same counters together."""
    ordered = sorted(ops, key=lambda op: sorted(op.deltas))
    groups: list[list[_Op]] = []
    current: list[_Op] = []
    keys: set[CounterKey] = set()
    for op in ordered:
        new_keys = keys | set(op.deltas)
        if current and len(current) + 1 + len(new_keys) > TX_MAX_ITEMS:
            groups.append(current)
            current, new_keys = [], set(op.deltas)
        current.append(op)
        keys = new_keys
    if current:
        groups.append(current)
    return groups


def _counter_actions(merchant_id: str, campaign_id: str, day: str, shard: int, counts: Counts, stamp: str
                     ) -> list[Any]:
    actions: list[Any] = [getattr(StatsItem, name).add(value) for name, value in counts.as_dict().items() if value]
    actions += [StatsItem.kind.set("CSTAT"), StatsItem.campaign_id.set(campaign_id), StatsItem.day.set(day),
                StatsItem.updated_at.set(stamp), StatsItem.gsi1pk.set(f"{merchant_id}#DSTAT"),
                StatsItem.gsi1sk.set(f"{day}#{campaign_id}#{shard}")]
    return actions
