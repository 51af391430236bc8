"""Ingestion routes and the activity stream consumer, end to end through moto's real stream."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.core.clock import to_iso

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)


def _customer(cid: str, **extra: Any) -> dict[str, Any]:
    return {"customer_id": cid, "nickname": "n" + cid, "phone": "+8613800001234", **extra}


def _order(oid: str, cid: str, days_ago: float, amount: int, status: str = "paid") -> dict[str, Any]:
    return {"order_id": oid, "customer_id": cid, "paid_at": to_iso(NOW - timedelta(days=days_ago)),
            "amount_fen": amount, "status": status}


def test_customer_batch_reports_errors_by_index_when_some_items_are_bad(api: Any, merchant: Any) -> None:
    items = [_customer("c1"), {"customer_id": "c2", "phone": "not-a-phone"}, _customer("c3", gender="robot")]
    r = api.post("/v1/customers/batch", {"items": items}, token=merchant.token)
    assert r.status == 200, r
    assert r.json["accepted"] == 1 and r.json["rejected"] == 2
    bad = {res["index"]: res["errors"][0]["field"] for res in r.json["results"] if not res["ok"]}
    assert bad == {1: "items[1].phone", 2: "items[2].gender"}
    assert api.get("/v1/customers/c1", token=merchant.token).status == 200
    assert api.get("/v1/customers/c2", token=merchant.token).status == 404


def test_batch_over_500_is_413_naming_the_limit(api: Any, merchant: Any) -> None:
    r = api.post("/v1/orders/batch", {"items": [{}] * 501}, token=merchant.token)
    assert r.status == 413 and "500" in r.json["error"]["reason"] and r.json["error"]["field"] == "body.items"


def test_phone_is_masked_when_customer_is_read(api: Any, merchant: Any) -> None:
    api.post("/v1/customers/batch", {"items": [_customer("c1")]}, token=merchant.token)
    profile = api.get("/v1/customers/c1", token=merchant.token).json["profile"]
    assert profile["phone"] == "+86138****1234"


def test_refund_reverses_and_replay_changes_nothing(api: Any, merchant: Any, runtime: Any, clock: Any) -> None:
    clock.set(NOW)
    runtime.set_time(NOW)
    api.post("/v1/customers/batch", {"items": [_customer("c1")]}, token=merchant.token)
    orders = [_order("o1", "c1", 3, 5000), _order("o2", "c1", 40, 3000, "completed")]
    assert api.post("/v1/orders/batch", {"items": orders}, token=merchant.token).json["accepted"] == 2
    runtime.drain()
    m = api.get("/v1/customers/c1", token=merchant.token).json["metrics"]
    assert (m["orders_total"], m["spend_total"], m["orders_30d"], m["orders_90d"]) == (2, 8000, 1, 2)
    api.post("/v1/orders/batch", {"items": orders}, token=merchant.token)  # the same again
    runtime.drain()
    assert api.get("/v1/customers/c1", token=merchant.token).json["metrics"]["orders_total"] == 2
    api.post("/v1/orders/batch", {"items": [_order("o1", "c1", 3, 5000, "refunded")]}, token=merchant.token)
    runtime.drain()
    m = api.get("/v1/customers/c1", token=merchant.token).json["metrics"]
    assert (m["orders_total"], m["spend_total"], m["orders_30d"]) == (1, 3000, 0)


def test_stream_records_replayed_by_hand_change_nothing(api: Any, merchant: Any, runtime: Any, clock: Any) -> None:
    from chalicelib import wiring
    clock.set(NOW)
    api.post("/v1/orders/batch", {"items": [_order("o9", "c9", 1, 700)]}, token=merchant.token)
    api.post("/v1/events/batch", {"items": [
        {"event_id": "e1", "customer_id": "c9", "type": "visit", "at": to_iso(NOW - timedelta(hours=2))}]},
        token=merchant.token)
    streams = wiring.client("dynamodbstreams")
    captured: list[dict[str, Any]] = []
    original = runtime.app.activity_stream

    def spy(event: dict[str, Any], context: Any) -> Any:
        captured.extend(event["Records"])
        return original(event, context)

    runtime.app.activity_stream = spy
    try:
        runtime.drain()
    finally:
        runtime.app.activity_stream = original
    assert streams is not None and len(captured) == 2
    before = api.get("/v1/customers/c9", token=merchant.token).json["metrics"]
    result = runtime.app.activity_stream({"Records": captured}, None)
    assert result["batchItemFailures"] == []
    after = api.get("/v1/customers/c9", token=merchant.token).json["metrics"]
    assert before == after and after["orders_total"] == 1 and after["last_visit_at"]


def test_cross_tenant_customer_is_404(api: Any, merchant: Any, other_merchant: Any) -> None:
    api.post("/v1/customers/batch", {"items": [_customer("c1")]}, token=merchant.token)
    assert api.get("/v1/customers/c1", token=other_merchant.token).status == 404


def test_readonly_key_cannot_ingest(api: Any, merchant: Any) -> None:
    token = api.post("/v1/keys", {"role": "readonly"}, token=merchant.token).json["api_key"]
    assert api.post("/v1/customers/batch", {"items": [_customer("c1")]}, token=token).status == 403
