"""Issue 15 item 2 at the edge: instants more than five minutes ahead of the clock are refused per item."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.core.clock import to_iso


def results(r: Any) -> dict[int, tuple[bool, list[str]]]:
    assert r.status == 200, r.json
    return {x["index"]: (x["ok"], [e["field"] for e in x["errors"]]) for x in r.json["results"]}


def test_future_dated_items_are_refused_by_index_when_the_rest_of_the_batch_is_stored(api, merchant, clock, runtime):
    now = clock.now
    customers = [{"customer_id": "f1"}, {"customer_id": "f2", "registered_at": "2099-01-01T00:00:00Z"},
                 {"customer_id": "f3", "birthday": "2099-01-01"},
                 {"customer_id": "f4", "registered_at": to_iso(now + timedelta(minutes=4))}]
    r = api.post("/v1/customers/batch", {"items": customers}, token=merchant.token)
    assert results(r) == {0: (True, []), 1: (False, ["items[1].registered_at"]), 2: (False, ["items[2].birthday"]),
                          3: (True, [])}
    assert "future" in r.json["results"][1]["errors"][0]["reason"]
    orders = [{"order_id": "ok", "customer_id": "f1", "paid_at": to_iso(now - timedelta(days=3)), "amount_fen": 100},
              {"order_id": "typo", "customer_id": "f1", "paid_at": "2099-01-01T00:00:00Z", "amount_fen": 100},
              {"order_id": "late", "customer_id": "f1", "paid_at": to_iso(now + timedelta(minutes=6)),
               "amount_fen": 100}]
    r = api.post("/v1/orders/batch", {"items": orders}, token=merchant.token)
    assert results(r) == {0: (True, []), 1: (False, ["items[1].paid_at"]), 2: (False, ["items[2].paid_at"])}
    events = [{"event_id": "e1", "customer_id": "f1", "type": "visit", "at": to_iso(now - timedelta(hours=1))},
              {"event_id": "e2", "customer_id": "f1", "type": "follow", "at": "2099-01-01T00:00:00Z"}]
    r = api.post("/v1/events/batch", {"items": events}, token=merchant.token)
    assert results(r) == {0: (True, []), 1: (False, ["items[1].at"])}
    runtime.drain()
    metrics = api.get("/v1/customers/f1", token=merchant.token).json["metrics"]
    assert (metrics["orders_30d"], metrics["orders_total"], metrics["last_visit_at"]) == (
        1, 1, to_iso(now - timedelta(hours=1)))
