"""PynamoDB storage of orders and behaviour events: one item each, keyed by merchant and id."""

from __future__ import annotations

import json
import time
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import TransactWriteError
from pynamodb.models import Model

from chalicelib.core.dynamo import table_meta, transact_write

ORDER = "ORDER"
EVENT = "EVENT"
EVENT_RETENTION_SECONDS = 400 * 86400  # events feed 30/180-day windows; keep a little over a year
TX_MAX_ITEMS = 100  # TransactWriteItems' limit: 4x BatchWriteItem's 25 items per request
TX_MAX_BYTES = 3_000_000  # of the 4 MB request limit (an order may carry 200 item lines), with room to spare
ITEM_OVERHEAD_BYTES = 300  # keys, ids and attribute names besides the doc
CONFLICT_RETRIES = 4


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
        waits on them in turn), at twice the write units; a chunk is stored whole or not at all.
        """
        latest = {activity_key(merchant_id, kind, doc[id_field]): doc for doc in docs}  # one op per item per tx
        items = [ActivityItem(pk, sk, merchant_id=merchant_id, customer_id=doc["customer_id"],
                              doc=json.dumps(doc, separators=(",", ":"), ensure_ascii=False), received_at=stamp,
                              expires_at=now_epoch + EVENT_RETENTION_SECONDS if kind == EVENT else None)
                 for (pk, sk), doc in latest.items()]
        for chunk in _chunks(items):
            _write(chunk)

    def get(self, merchant_id: str, kind: str, item_id: str) -> dict[str, Any] | None:
        pk, sk = activity_key(merchant_id, kind, item_id)
        try:
            item = ActivityItem.get(pk, sk)
        except ActivityItem.DoesNotExist:
            return None
        doc: dict[str, Any] = json.loads(item.doc)
        return doc


def _chunks(items: list[ActivityItem]) -> list[list[ActivityItem]]:
    """Consecutive groups within both transaction limits (item count and request size)."""
    chunks: list[list[ActivityItem]] = []
    current: list[ActivityItem] = []
    size = 0
    for item in items:
        item_size = len(item.doc.encode()) + ITEM_OVERHEAD_BYTES
        if current and (len(current) >= TX_MAX_ITEMS or size + item_size > TX_MAX_BYTES):
            chunks.append(current)
            current, size = [], 0
        current.append(item)
        size += item_size
    if current:
        chunks.append(current)
    return chunks


def _write(items: list[ActivityItem]) -> None:
    for attempt in range(CONFLICT_RETRIES):
        try:
            with transact_write() as tx:
                for item in items:
                    tx.save(item)
            return
        except TransactWriteError as exc:
            reasons = list(exc.cancellation_reasons or [])
            conflict = any(r is not None and r.code == "TransactionConflict" for r in reasons)
            if not conflict or attempt == CONFLICT_RETRIES - 1:
                raise
            time.sleep(0.05 * 2 ** attempt)  # the same order or event is being written by another call right now
