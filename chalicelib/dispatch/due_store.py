"""The due index (pending work by UTC minute bucket) and the tick watermark, in the dispatch table."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import PutError, UpdateError

from chalicelib.core.clock import parse_iso, to_iso
from chalicelib.core.dynamo import is_condition_failure
from chalicelib.core.tx import TxOp
from chalicelib.dispatch.model import DueItem, DueKind, bucket_of, minute_of
from chalicelib.dispatch.store import DispatchItem

SYSTEM_PK = "_system"
TICK_SK = "TICK"
DONE_TTL_DAYS = 30
TOUCH_TTL_DAYS = 400  # a touch's key is its dedup record: kept as long as the events themselves
CLAIM_LEASE = timedelta(minutes=2)


def due_pk(merchant_id: str) -> str:
    return f"{merchant_id}#DUE"


def campaign_due_key(merchant_id: str, campaign_id: str) -> str:
    return f"{merchant_id}#CAMPAIGN#{campaign_id}#DUE"


def _item(due: DueItem, now: datetime, *, indexed: bool = True) -> DispatchItem:
    bucket = bucket_of(max(due.due_at, minute_of(now)))  # a due time already past goes into this minute
    item = DispatchItem(due_pk(due.merchant_id), due.sk, kind=due.kind.value, status=due.status,
                        campaign_id=due.campaign_id, payload=due.payload, due_at=to_iso(due.due_at),
                        updated_at=to_iso(now))
    if indexed and due.kind is not DueKind.PARKED:
        item.gsi1pk, item.gsi1sk = bucket, f"{due.merchant_id}#{due.kind.value}#{due.sk}"
    if indexed and due.campaign_id:
        item.gsi2pk, item.gsi2sk = campaign_due_key(due.merchant_id, due.campaign_id), due.sk
    return item


def _due(item: DispatchItem) -> DueItem:
    return DueItem(item.pk.removesuffix("#DUE"), item.sk, DueKind(item.kind or "occurrence"),
                   parse_iso(item.due_at or "1970-01-01T00:00:00Z"), dict(item.payload or {}), item.status or "",
                   item.campaign_id, item.lease_until)


class DueStore:
    """Writes, claims and completes due items; claims are conditional so two ticks never take the same one."""

    def put(self, due: DueItem, now: datetime, *, only_new: bool = True) -> bool:
        """Write a due item; with `only_new` an existing key (a replay, a duplicate event) writes nothing."""
        try:
            _item(due, now).save(condition=DispatchItem.pk.does_not_exist() if only_new else None)
        except PutError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def put_op(self, due: DueItem, now: datetime, *, only_new: bool = True) -> TxOp:
        return TxOp("save", _item(due, now), f"due:{due.sk}",
                    DispatchItem.pk.does_not_exist() if only_new else None)

    def in_bucket(self, minute: datetime) -> list[DueItem]:
        """Pending (and claimed, lease possibly expired) items of one minute bucket, all merchants."""
        return [_due(i) for i in DispatchItem.by_gsi1.query(bucket_of(minute))
                if i.status in ("pending", "claimed") and i.pk.endswith("#DUE")]

    def claim_op(self, due: DueItem, now: datetime, payload: dict[str, Any] | None = None) -> TxOp:
        """pending → claimed (or a claim whose lease ran out); the item moves to a retry bucket meanwhile."""
        lease = now + CLAIM_LEASE
        actions = [DispatchItem.status.set("claimed"), DispatchItem.lease_until.set(to_iso(lease)),
                   DispatchItem.gsi1pk.set(bucket_of(lease)), DispatchItem.updated_at.set(to_iso(now))]
        if payload is not None:
            actions.append(DispatchItem.payload.set(payload))
        condition = (DispatchItem.status == "pending") | (
            (DispatchItem.status == "claimed") & (DispatchItem.lease_until < to_iso(now)))
        return TxOp("update", DispatchItem(due_pk(due.merchant_id), due.sk), f"claim:{due.sk}", condition, actions)

    def mark_done(self, items: Iterable[DueItem], now: datetime, status: str = "done") -> None:
        """Finish items (BatchWriteItem, 25 a request): out of every index; touches keep their dedup key."""
        with DispatchItem.batch_write() as batch:
            for due in items:
                ttl = TOUCH_TTL_DAYS if due.kind is DueKind.TOUCH else DONE_TTL_DAYS
                item = _item(DueItem(due.merchant_id, due.sk, due.kind, due.due_at, due.payload, status,
                                     due.campaign_id), now, indexed=False)
                item.expires_at = int(now.timestamp()) + ttl * 86400
                batch.save(item)

    def of_campaign(self, merchant_id: str, campaign_id: str) -> list[DueItem]:
        """The campaign's open due items (pending, claimed, parked)."""
        return [_due(i) for i in DispatchItem.by_gsi2.query(campaign_due_key(merchant_id, campaign_id))
                if i.status in ("pending", "claimed", "parked")]

    def open_touches(self, merchant_id: str, campaign_id: str, limit: int, start_key: dict[str, Any] | None
                     ) -> tuple[list[DueItem], dict[str, Any] | None]:
        """A page of the campaign's upcoming triggered touches (finished ones leave the index), in key order."""
        query = DispatchItem.by_gsi2.query(campaign_due_key(merchant_id, campaign_id),
                                           DispatchItem.gsi2sk.startswith("touch#"), limit=limit,
                                           last_evaluated_key=start_key)
        items = [_due(i) for i in query if i.status in ("pending", "claimed")]
        return items, query.last_evaluated_key

    def delete(self, items: Iterable[DueItem]) -> None:
        with DispatchItem.batch_write() as batch:
            for due in items:
                batch.delete(DispatchItem(due_pk(due.merchant_id), due.sk))

    # -- watermark ------------------------------------------------------------------------------
    def watermark(self) -> datetime | None:
        try:
            item = DispatchItem.get(SYSTEM_PK, TICK_SK, consistent_read=True)
        except DispatchItem.DoesNotExist:
            return None
        return parse_iso(item.due_at) if item.due_at else None

    def advance_watermark(self, minute: datetime) -> None:
        """Monotonic: a late or replayed tick never moves it back."""
        stamp = to_iso(minute)
        try:
            DispatchItem(SYSTEM_PK, TICK_SK).update(
                actions=[DispatchItem.due_at.set(stamp)],
                condition=DispatchItem.due_at.does_not_exist() | (DispatchItem.due_at < stamp))
        except UpdateError as exc:
            if not is_condition_failure(exc):
                raise
