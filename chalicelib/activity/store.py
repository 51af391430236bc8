"""PynamoDB storage of orders and behaviour events: one item each, keyed by merchant and id."""

from __future__ import annotations

import json
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.core.dynamo import table_meta

ORDER = "ORDER"
EVENT = "EVENT"
EVENT_RETENTION_SECONDS = 400 * 86400  # events feed 30/180-day windows; keep a little over a year


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
    """Batch writes of orders and events; re-sending an id replaces the item (the stream shows the change)."""

    def put(self, merchant_id: str, kind: str, docs: list[dict[str, Any]], id_field: str, stamp: str,
            now_epoch: int) -> None:
        with ActivityItem.batch_write() as batch:
            for doc in docs:
                pk, sk = activity_key(merchant_id, kind, doc[id_field])
                batch.save(ActivityItem(
                    pk, sk, merchant_id=merchant_id, customer_id=doc["customer_id"],
                    doc=json.dumps(doc, separators=(",", ":"), ensure_ascii=False), received_at=stamp,
                    expires_at=now_epoch + EVENT_RETENTION_SECONDS if kind == EVENT else None))

    def get(self, merchant_id: str, kind: str, item_id: str) -> dict[str, Any] | None:
        pk, sk = activity_key(merchant_id, kind, item_id)
        try:
            item = ActivityItem.get(pk, sk)
        except ActivityItem.DoesNotExist:
            return None
        doc: dict[str, Any] = json.loads(item.doc)
        return doc
