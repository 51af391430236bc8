"""PynamoDB storage of orders and behaviour events: one item each, keyed by merchant and id."""

from __future__ import annotations

import json
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.core.dynamo import commit, table_meta
from chalicelib.core.tx import TX_MAX_ITEMS, TxOp

ORDER = "ORDER"
EVENT = "EVENT"
EVENT_RETENTION_SECONDS = 400 * 86400  # events feed 30/180-day windows; keep a little over a year
TX_MAX_BYTES = 3_000_000  # of the 4 MB request limit (an order may carry 200 item lines), with room to spare
ITEM_OVERHEAD_BYTES = 300  # keys, ids and attribute names besides the doc


class ActivityItem(Model):
    """pk `{merchant}#O#{order}` / `{merchant}#E#{event}`; the table's stream feeds activity_stream."""

    Meta = table_meta("activity")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    merchant_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    doc = UnicodeAttribute()
    received_at = UnicodeAttribute()
    expires_at = NumberAttribute(null=True)


def activity_key(merchant_id: str, kind: str, item_id: str) -> tuple[str, str]:
    return f"{merchant_id}#{kind[0]}#{item_id}", kind


class ActivityStore:
    """Writes of orders and events; re-sending an id replaces the item (the stream shows the change)."""

    def put(self, merchant_id: str, kind: str, docs: list[dict[str, Any]], id_field: str, stamp: str,
            now_epoch: int) -> None:
        """Put the docs with one TransactWriteItems per 100 items (a repeated id: the last doc wins).

        Transactions rather than BatchWriteItem: a quarter of the requests per order (each ingestion call
        waits on them in turn), at twice the write units; a group is stored whole or not at all.
        """
        latest = {activity_key(merchant_id, kind, doc[id_field]): doc for doc in docs}  # one op per item per tx
        items = [ActivityItem(pk, sk, merchant_id=merchant_id, customer_id=doc["customer_id"],
                              doc=json.dumps(doc, separators=(",", ":"), ensure_ascii=False), received_at=stamp,
                              expires_at=now_epoch + EVENT_RETENTION_SECONDS if kind == EVENT else None)
                 for (pk, sk), doc in latest.items()]
        for group in _groups(items):
            _write(group)

    def get(self, merchant_id: str, kind: str, item_id: str) -> dict[str, Any] | None:
        pk, sk = activity_key(merchant_id, kind, item_id)
        try:
            item = ActivityItem.get(pk, sk)
        except ActivityItem.DoesNotExist:
            return None
        doc: dict[str, Any] = json.loads(item.doc)
        return doc


def _groups(items: list[ActivityItem]) -> list[list[ActivityItem]]:
    """Consecutive groups within both transaction limits (item count and request size)."""
    groups: list[list[ActivityItem]] = []
    current: list[ActivityItem] = []
    size = 0
    for item in items:
        item_size = len(item.doc.encode()) + ITEM_OVERHEAD_BYTES
        if current and (len(current) >= TX_MAX_ITEMS or size + item_size > TX_MAX_BYTES):
            groups.append(current)
            current, size = [], 0
        current.append(item)
        size += item_size
    if current:
        groups.append(current)
    return groups


def _write(items: list[ActivityItem]) -> None:
    # commit retries a TransactionConflict: the same order or event is being written by another call right now.
    commit([TxOp("save", item, f"activity:{item.pk}") for item in items])
