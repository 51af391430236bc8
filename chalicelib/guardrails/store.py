"""Guard items in the dispatch table: one per customer (all its caps) and a merchant's quota counters.

Writes are transaction operations (core.tx.TxOp) that ride in the chunk's TransactWriteItems, beside the
ledger entries and coupon instances of the same customers: a cap is taken only if the delivery is recorded, and
a delivery is recorded only if the cap still allowed it. Nothing here reads before it writes; reads serve only
to explain a failed condition and to maintain the risk facts outside the dispatch path.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.condition import size as _untyped_size
from pynamodb.expressions.operand import Path
from pynamodb.models import Model

from chalicelib.core.config import get_config
from chalicelib.core.dynamo import is_condition_failure, table_meta
from chalicelib.core.tx import TxOp
from chalicelib.dispatch.model import contact_key
from chalicelib.guardrails.rules import (
    GUARD_TTL_DAYS,
    TASK_LOCK_DAYS,
    CustomerWrite,
    MonthState,
    RiskRule,
    prune_claims,
    risk_interval,
    task_lock,
)

QUOTA_TTL_DAYS = 400
_deserialize = TypeDeserializer().deserialize


class GuardItem(Model):
    """Declared attributes only; the windowed counters (`md_*`, `ws_*`, `wi_*`, `rc_*`) are addressed by Path.

    A customer's guard item is its contact item: reports.reach_log keeps its reach registers `h{W}a`.. on it too.
    """

    Meta = table_meta("dispatch")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute(null=True)
    cm = NumberAttribute(null=True)  # local day ordinal of the last coupon message
    rk_from = NumberAttribute(null=True)  # risk interval [rk_from, rk_until), epoch seconds
    rk_until = NumberAttribute(null=True)
    rd = NumberAttribute(null=True)  # last coupon redemption, epoch seconds
    rv = NumberAttribute(null=True)  # version of the risk facts (they are read, recomputed and written back)
    st = NumberAttribute(null=True)  # month: store coupon units issued
    it = NumberAttribute(null=True)  # month: item coupon units issued
    run = UnicodeAttribute(null=True)  # audience day slot before it held a set of runs (read, never written)
    expires_at = NumberAttribute(null=True)


def guard_key(merchant_id: str, customer_id: str) -> tuple[str, str]:
    """The customer's contact item: its caps here, its reaches (reports.reach_log) beside them."""
    return contact_key(merchant_id, customer_id)


def quota_pk(merchant_id: str) -> str:
    return f"{merchant_id}#QUOTA"


def coupons_key(merchant_id: str, month: str) -> tuple[str, str]:
    return quota_pk(merchant_id), f"M#{month}"


def sends_key(merchant_id: str, month: str) -> tuple[str, str]:
    return quota_pk(merchant_id), f"S#{month}"


def slot_key(merchant_id: str, audience_id: str, day: str) -> tuple[str, str]:
    return quota_pk(merchant_id), f"A#{audience_id}#{day}"


def size(path: Path) -> Any:
    """DynamoDB's size() (PynamoDB leaves it untyped)."""
    return _untyped_size(path)  # type: ignore[no-untyped-call]


def _and(conditions: list[Condition]) -> Condition | None:
    out: Condition | None = None
    for c in conditions:
        out = c if out is None else out & c
    return out


def customer_op(merchant_id: str, customer_id: str, write: CustomerWrite, tag: str) -> TxOp:
    """The conditional update of one customer's guard item (rules.violations / rules.apply, as DynamoDB)."""
    conditions: list[Condition] = []
    actions: list[Any] = [GuardItem.expires_at.set(write.expires_at)]
    if write.risk_at is not None:  # outside the risk interval, or a redemption within the window (rules)
        conditions.append(GuardItem.rk_until.does_not_exist() | (GuardItem.rk_until <= write.risk_at)
                          | (GuardItem.rk_from > write.risk_at)
                          | ((GuardItem.rd > write.risk_at - write.risk_window) & (GuardItem.rd <= write.risk_at)))
    for name in write.exclude:
        path = Path(name)
        conditions.append(path.does_not_exist() | ((size(path) == 1) & path.contains(write.campaign_id)))
    for counter in write.counters:
        path = Path(counter.name)
        conditions.append(path.does_not_exist() | (path <= counter.cap - counter.add))
        actions.append(path.add(counter.add))
        actions += [Path(name).remove() for name in counter.stale]
    if write.cooldown_since is not None:
        conditions.append(GuardItem.cm.does_not_exist() | (GuardItem.cm <= write.cooldown_since))
    if write.coupon_message:
        conditions.append(GuardItem.cm.does_not_exist() | (GuardItem.cm <= write.today))
        actions.append(GuardItem.cm.set(write.today))
    if write.task:  # one open staff task per customer and plan: free, or its lock expired
        lock, until = Path(write.task), Path(write.task + "u")
        conditions.append(lock.does_not_exist() | until.does_not_exist() | (until <= write.task_at))
        actions += [lock.set(write.task_key), until.set(write.task_at + TASK_LOCK_DAYS * 86400)]
    actions.append(Path(write.reach).add({write.campaign_id}))
    actions += [Path(name).remove() for name in write.reach_stale]
    pk, sk = guard_key(merchant_id, customer_id)
    return TxOp("update", GuardItem(pk, sk), tag, _and(conditions), actions)


def _ttl(now: datetime) -> int:
    return int(now.timestamp()) + QUOTA_TTL_DAYS * 86400


def coupons_op(merchant_id: str, month: str, store: int, item: int, store_cap: int, item_cap: int, now: datetime,
               tag: str) -> TxOp:
    """Coupon units of this transaction added to the merchant's month, each kind only while within its quota."""
    conditions: list[Condition] = []
    actions: list[Any] = [GuardItem.kind.set("quota"), GuardItem.expires_at.set(_ttl(now))]
    for attr, n, cap in ((GuardItem.st, store, store_cap), (GuardItem.it, item, item_cap)):
        if n:
            conditions.append(attr.does_not_exist() | (attr <= cap - n))
            actions.append(attr.add(n))
    pk, sk = coupons_key(merchant_id, month)
    return TxOp("update", GuardItem(pk, sk), tag, _and(conditions), actions)


def sends_op(merchant_id: str, month: str, run_id: str, cap: int, now: datetime, tag: str) -> TxOp:
    """The run counted once among the month's audience sends (a set of run ids: replays add nothing)."""
    runs = Path("runs")
    condition = runs.does_not_exist() | runs.contains(run_id) | (size(runs) < cap)
    pk, sk = sends_key(merchant_id, month)
    return TxOp("update", GuardItem(pk, sk), tag, condition,
                [GuardItem.kind.set("quota"), GuardItem.expires_at.set(_ttl(now)), runs.add({run_id})])


def slot_op(merchant_id: str, audience_id: str, day: str, run_id: str, cap: int, now: datetime, tag: str) -> TxOp:
    """The audience's sends of the local day (a set of run ids, at most `cap`): a run takes a place with its first
    chunk and holds it for all its chunks (replays add nothing)."""
    runs = Path("runs")
    condition = runs.does_not_exist() | runs.contains(run_id) | (size(runs) < cap)
    pk, sk = slot_key(merchant_id, audience_id, day)
    return TxOp("update", GuardItem(pk, sk), tag, condition,
                [GuardItem.kind.set("quota"), GuardItem.expires_at.set(_ttl(now)), runs.add({run_id})])


def slot_runs(item: dict[str, Any] | None) -> frozenset[str]:
    """The runs holding the audience's sends of a day (an item written before days had a set holds its one run
    under `run`: counted here, so at most one send more than the cap on the day of the upgrade)."""
    item = item or {}
    legacy = {str(item["run"])} if item.get("run") else set()
    return frozenset(str(r) for r in item.get("runs") or ()) | legacy


def month_state(item: dict[str, Any] | None) -> MonthState:
    item = item or {}
    return MonthState(int(item.get("st") or 0), int(item.get("it") or 0),
                      frozenset(str(r) for r in item.get("runs") or ()))


class GuardStore:
    """Consistent raw reads of guard and quota items, and the risk facts' read-modify-write."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._table = get_config().table("dispatch")

    def read(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """Items by key (absent ones left out): BatchGetItem, 100 keys a request."""
        wanted = list(dict.fromkeys(keys))
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for start in range(0, len(wanted), 100):
            request: dict[str, Any] = {self._table: {
                "Keys": [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in wanted[start:start + 100]],
                "ConsistentRead": True}}
            for attempt in range(8):
                got = self._client.batch_get_item(RequestItems=request)
                for raw in got.get("Responses", {}).get(self._table, []):
                    item = {k: _deserialize(v) for k, v in raw.items()}
                    found[(item["pk"], item["sk"])] = item
                request = got.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(1.0, 0.05 * 2 ** attempt))
            else:
                raise RuntimeError("BatchGetItem left keys unprocessed")
        return found

    def record_redemption(self, merchant_id: str, customer_id: str, at: datetime) -> None:
        """A coupon redeemed by one of the customer's orders: `rd` moves forward to it (one conditional write, no
        read; a replay or an older redemption changes nothing). It clears the rule for the window: dispatch's
        condition and rules.violations check `rd` beside the claims' interval."""
        redeemed = int(at.timestamp())
        try:
            GuardItem(*guard_key(merchant_id, customer_id)).update(
                actions=[GuardItem.kind.set("guard"), GuardItem.rd.set(redeemed),
                         # A late-ingested old order must not bring the item's expiry forward.
                         GuardItem.expires_at.set(GuardItem.expires_at | redeemed + GUARD_TTL_DAYS * 86400)],
                condition=GuardItem.rd.does_not_exist() | (GuardItem.rd < redeemed))
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise

    def release_task(self, merchant_id: str, customer_id: str, campaign_id: str, delivery_key: str) -> None:
        """A staff task completed: the plan may give its staff a new task about the customer. Only the lock of
        that very task is removed (one conditional write; a lock taken by a later task stays)."""
        lock = task_lock(campaign_id)
        try:
            GuardItem(*guard_key(merchant_id, customer_id)).update(
                actions=[Path(lock).remove(), Path(lock + "u").remove()], condition=Path(lock) == delivery_key)
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise

    def claim_op(self, merchant_id: str, customer_id: str, at: datetime, rule: RiskRule, tag: str) -> TxOp:
        """A coupon claimed by the customer, kept (within the rule's window) with the risk interval recomputed,
        as a transaction item conditioned on the facts just read (`rv`): the wallet writes it with the claimed
        instance, so a claim is never stored without its fact, nor its fact twice."""
        key = guard_key(merchant_id, customer_id)
        item = self.read([key]).get(key, {})
        claims = prune_claims([int(c) for c in item.get("cl") or ()] + [int(at.timestamp())], at, rule)
        last = int(item["rd"]) if item.get("rd") is not None else None
        start, until = risk_interval(claims, last, rule)
        version = int(item.get("rv") or 0)
        actions: list[Any] = [GuardItem.kind.set("guard"), Path("cl").set(claims), GuardItem.rk_from.set(start),
                              GuardItem.rk_until.set(until), GuardItem.rv.set(version + 1),
                              GuardItem.expires_at.set(int(at.timestamp()) + GUARD_TTL_DAYS * 86400)]
        condition = GuardItem.rv.does_not_exist() if not version else GuardItem.rv == version
        return TxOp("update", GuardItem(*key), tag, condition, actions)
