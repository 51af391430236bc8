"""PynamoDB storage of orders and behaviour events: one item each, keyed by merchant and id."""

from __future__ import annotations

import json
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.core.clock import parse_iso, to_iso
from chalicelib.core.dynamo import commit, table_meta
from chalicelib.core.errors import Invalid
from chalicelib.core.tx import TX_MAX_BYTES, TX_MAX_ITEMS, TxOp

ORDER = "ORDER"
EVENT = "EVENT"
EVENT_RETENTION_SECONDS = 400 * 86400  # events feed 30/180-day windows; keep a little over a year
ITEM_OVERHEAD_BYTES = 300  # keys, ids and attribute names besides the doc


class CustomerOrderIndex(GlobalSecondaryIndex["ActivityItem"]):  # type: ignore[no-untyped-call]
    """gsi1: a customer's orders `{merchant}#C#{customer}#ORDERS`, by `{paid_at UTC}#{order}` (GET
    /v1/customers/{id}/orders, newest first)."""

    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


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
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    by_customer = CustomerOrderIndex()


def activity_key(merchant_id: str, kind: str, item_id: str) -> tuple[str, str]:
    return f"{merchant_id}#{kind[0]}#{item_id}", kind


def customer_orders_key(merchant_id: str, customer_id: str) -> str:
    return f"{merchant_id}#C#{customer_id}#ORDERS"


def _index(merchant_id: str, kind: str, doc: dict[str, Any]) -> tuple[str | None, str | None]:
    """An order is listed under its customer by payment time in UTC (offsets as given would sort wrongly)."""
    if kind != ORDER:
        return None, None
    return (customer_orders_key(merchant_id, doc["customer_id"]),
            f"{to_iso(parse_iso(doc['paid_at']))}#{doc['order_id']}")


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
                              expires_at=now_epoch + EVENT_RETENTION_SECONDS if kind == EVENT else None,
                              gsi1pk=index[0], gsi1sk=index[1])
                 for (pk, sk), doc in latest.items() for index in (_index(merchant_id, kind, doc),)]
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

    def orders_of(self, merchant_id: str, customer_id: str, limit: int, start_key: dict[str, Any] | None
                  ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """One page of the customer's orders as stored, newest payment first."""
        key = customer_orders_key(merchant_id, customer_id)
        if start_key is not None and (start_key.get("gsi1pk") or {}).get("S") != key:
            # another customer's cursor would make DynamoDB refuse the query (a 500, not the client's 400)
            raise Invalid("cursor belongs to another list", field="query.cursor")
        results = ActivityItem.by_customer.query(key,
                                                 scan_index_forward=False, limit=limit, last_evaluated_key=start_key)
        rows = list(results)
        if len(rows) < limit:
            return [json.loads(r.doc) for r in rows], None
        # A full page offers the next one, as DynamoDB does when Limit stops a query (moto only when more remain):
        # the index's key of the last row, so the next query starts after it.
        last = rows[-1]
        key_after = {"pk": {"S": last.pk}, "sk": {"S": last.sk}, "gsi1pk": {"S": last.gsi1pk or ""},
                     "gsi1sk": {"S": last.gsi1sk or ""}}
        return [json.loads(r.doc) for r in rows], key_after


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
