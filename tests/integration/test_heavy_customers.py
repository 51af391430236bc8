"""Heavy customers through moto's real stream: exact metrics from an activity spread over part items, and a
customer whose activity cannot be stored fails alone (its records dead-lettered, the batch's others stored).

The piece sizes are lowered so a few hundred orders take the paths 5,000 orders take at the real sizes
(tests/unit/test_activity_parts.py checks those sizes on the pure codec).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import wiring
from chalicelib.core.clock import to_iso
from chalicelib.customers import activity_parts
from chalicelib.customers.store import CustomerItem

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
GUEST_ORDERS = 300


def _orders(cid: str, n: int, days: int) -> list[dict[str, Any]]:
    return [{"order_id": f"pos-{cid}-{i:06d}", "customer_id": cid, "amount_fen": 1000 + i,
             "paid_at": to_iso(NOW - timedelta(seconds=i * days * 86_400 // n + 60)), "status": "paid"}
            for i in range(n)]


def _ingest(api: Any, merchant: Any, orders: list[dict[str, Any]]) -> None:
    for start in range(0, len(orders), 500):
        r = api.post("/v1/orders/batch", {"items": orders[start:start + 500]}, token=merchant.token)
        assert r.status == 200 and r.json["accepted"] == len(orders[start:start + 500]), r


def _items(merchant_id: str, cid: str) -> list[CustomerItem]:
    pk = wiring.customer_store().pk(merchant_id, cid)
    return [i for i in CustomerItem.query(pk, CustomerItem.sk.startswith(f"{cid}#"))]


@pytest.fixture
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(activity_parts, "INLINE_MAX", 2_000)
    monkeypatch.setattr(activity_parts, "PIECE_BYTES", 1_500)


def test_heavy_customer_metrics_are_exact_from_part_items(api: Any, merchant: Any, runtime: Any, clock: Any,
                                                           small_pieces: None) -> None:
    clock.set(NOW)
    runtime.set_time(NOW)
    guest = _orders("guest", GUEST_ORDERS, 100)
    _ingest(api, merchant, [*guest, *_orders("c2", 2, 10)])
    stats = runtime.drain()
    assert stats.stream_failures == 0 and not runtime.stream_dead_letters
    kinds = sorted(i.sk.removeprefix("guest#") for i in _items(merchant.id, "guest"))
    assert kinds[:2] == ["A", "A.01"]  # compressed, over more than one item
    m = api.get("/v1/customers/guest", token=merchant.token).json["metrics"]
    assert (m["orders_180d"], m["orders_90d"], m["orders_total"]) == (GUEST_ORDERS, GUEST_ORDERS * 90 // 100,
                                                                      GUEST_ORDERS)
    assert m["spend_total"] == sum(o["amount_fen"] for o in guest)
    assert api.get("/v1/customers/c2", token=merchant.token).json["metrics"]["orders_total"] == 2
    # Audience evaluation reads the shard with the part items in place.
    rule = {"all": [{"field": "orders_180d", "op": "gte", "value": GUEST_ORDERS}]}
    assert api.post("/v1/audiences/estimate", {"rule": rule}, token=merchant.token).json["count"] == 1
    # A refund of most orders shrinks the document: the parts it no longer needs are deleted.
    refunds = [dict(o, status="refunded") for o in guest[:GUEST_ORDERS - 5]]
    _ingest(api, merchant, refunds)
    runtime.drain()
    row = wiring.customer_store().get_activity_rows(merchant.id, ["guest"])["guest"]
    assert len(_items(merchant.id, "guest")) == 1 + row.activity_parts
    assert api.get("/v1/customers/guest", token=merchant.token).json["metrics"]["orders_total"] == 5


def test_an_activity_that_cannot_be_stored_fails_only_its_customers_records(
        api: Any, merchant: Any, runtime: Any, clock: Any, small_pieces: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(activity_parts, "MAX_PIECES", 1)  # 1.5 KB compressed: the guest outgrows it
    clock.set(NOW)
    runtime.set_time(NOW)
    _ingest(api, merchant, [*_orders("guest", GUEST_ORDERS, 100), *_orders("c2", 3, 10), *_orders("c3", 1, 1)])
    runtime.drain()
    dead = runtime.stream_dead_letters
    assert dead and {r["dynamodb"]["Keys"]["pk"]["S"].rsplit("#", 1)[1].split("-")[1] for r in dead} == {"guest"}
    assert api.get("/v1/customers/c2", token=merchant.token).json["metrics"]["orders_total"] == 3
    assert api.get("/v1/customers/c3", token=merchant.token).json["metrics"]["orders_total"] == 1
    assert all(len(i.blob or b"") <= activity_parts.PIECE_BYTES for i in _items(merchant.id, "guest"))


def test_a_torn_read_of_the_parts_is_read_again_in_one_transaction(merchant: Any, small_pieces: None) -> None:
    store = wiring.customer_store()
    doc = {"v": 1, "orders": {f"o{i}": [1_700_000_000 + i, 100 + i] for i in range(400)}, "watermark": 1}
    assert store.save_activities(merchant.id, [("guest", doc, 0, 0)], "2026-11-23T04:00:00Z") == []
    row = store.get_activity_rows(merchant.id, ["guest"])["guest"]
    assert row.activity == doc and row.activity_rev == 1 and row.activity_parts >= 1
    items = {i.sk.removeprefix("guest#"): i for i in _items(merchant.id, "guest")}
    stale = dict(items)
    stale["A.01"] = CustomerItem(items["A.01"].pk, items["A.01"].sk, doc="", updated_at="x", rev=0,
                                 blob=items["A.01"].blob)  # as if read from the write before
    assert store.row(merchant.id, "guest", stale).activity == doc
    bigger = {**doc, "orders": {**doc["orders"], "late": [1_700_009_999, 5]}}
    store.save_activities(merchant.id, [("guest", bigger, 1, row.activity_parts)], "2026-11-23T04:01:00Z")
    torn = {**items, "A": {i.sk.removeprefix("guest#"): i for i in _items(merchant.id, "guest")}["A"]}
    assert store.row(merchant.id, "guest", torn).activity == bigger  # the new activity item, an old part: again
    assert store.row(merchant.id, "guest", items).activity == doc  # every piece of one write: as it was then
