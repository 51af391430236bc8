"""Gives one merchant an object of every kind, through the HTTP API and the local runtime, and records the ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

CUSTOMERS = ("c1", "c2", "c3")
STAFF = "s1"


@dataclass
class World:
    """One seeded merchant: its id, admin token, and the ids of what it owns, by path parameter name."""

    merchant_id: str
    token: str
    ids: dict[str, list[str]] = field(default_factory=dict)
    staff_token: str = ""

    def add(self, param: str, *values: str) -> None:
        self.ids.setdefault(param, []).extend(v for v in values if v not in self.ids.get(param, []))

    def secrets(self) -> set[str]:
        """Every id this merchant owns that is not a name the client chose and another tenant could reuse."""
        chosen = {*CUSTOMERS, STAFF}
        return {self.merchant_id} | {v for vs in self.ids.values() for v in vs if v not in chosen}


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status == status, response
    return response.json


def seed_world(api: Any, merchant: Any, runtime: Any, now: datetime) -> World:
    """Customers, orders, events, coupons, contents, audiences, campaigns, runs, instances, inbox, tasks, keys."""
    world = World(merchant.id, merchant.token)
    tok = {"token": merchant.token}
    paid = now - timedelta(days=2)
    # Three campaigns reach the same customers on one day: lift the per-customer caps so none is suppressed, and
    # the audience's sends a day (the one list is one audience however often it is sent to: issue 18 item 4).
    loose = {"daily_messages_per_customer": 10, "coupon_message_cooldown_days": 0, "inbox_messages_per_day": 10,
             "weekly_store_coupons_per_customer": 10, "audience_sends_per_day": 5}
    _ok(api.put("/v1/settings", {"store_name": "A store", "guardrails": loose}, **tok))
    customers = [{"customer_id": c, "nickname": f"alice-{c}", "phone": f"+86138000000{i}", "staff_owner": STAFF,
                  "email": f"{c}@example.com", "tags": ["vip"]} for i, c in enumerate(CUSTOMERS)]
    assert _ok(api.post("/v1/customers/batch", {"items": customers}, **tok))["accepted"] == len(CUSTOMERS)
    world.add("customer_id", *CUSTOMERS)
    orders = [{"order_id": f"o{c}", "customer_id": c, "paid_at": paid.isoformat(), "amount_fen": 5000 + i,
               "items": [{"item_id": "sku1", "price_fen": 5000}]} for i, c in enumerate(CUSTOMERS)]
    assert _ok(api.post("/v1/orders/batch", {"items": orders}, **tok))["accepted"] == len(CUSTOMERS)
    events = [{"event_id": f"e{c}", "customer_id": c, "type": "visit", "at": paid.isoformat()} for c in CUSTOMERS]
    assert _ok(api.post("/v1/events/batch", {"items": events}, **tok))["accepted"] == len(CUSTOMERS)

    coupon = _ok(api.post("/v1/coupons", {
        "name": "10 off", "kind": "store_threshold", "threshold_fen": 5000, "discount_fen": 1000,
        "validity": {"kind": "relative", "days": 30}, "claim_window": {"kind": "any_time"}, "stock": 1000}, **tok), 201)
    world.add("coupon_id", coupon["coupon_id"])
    content = _ok(api.post("/v1/contents", {"name": "hello", "text": "Hi {nickname}, see you soon"},
                           **tok), 201)
    world.add("content_id", content["content_id"])

    rule = {"all": [{"field": "tags", "op": "contains", "value": "vip"}]}
    for body in ({"kind": "custom", "name": "vips", "rule": rule},
                 {"kind": "frozen", "name": "vips then", "rule": rule},
                 {"kind": "list", "name": "listed", "customer_ids": list(CUSTOMERS)}):
        world.add("audience_id", _ok(api.post("/v1/audiences", body, **tok), 201)["audience_id"])

    target = {"kind": "customers", "customer_ids": list(CUSTOMERS)}
    coupons = [{"coupon_id": coupon["coupon_id"], "quantity": 1}]
    actions = ({"channel": "wallet", "coupons": coupons},
               {"channel": "inbox", "coupons": coupons, "content_id": content["content_id"]},
               {"channel": "staff_task", "content_id": content["content_id"]})
    runtime.set_time(now)
    for n, action in enumerate(actions):
        body = {"name": f"campaign {n}", "label": "seed", "target": target, "action": action,
                "schedule": {"kind": "once", "at": None},
                "guardrails": {"respect_quiet_hours": False}}
        cid = _ok(api.post("/v1/campaigns", body, **tok), 201)["campaign_id"]
        _ok(api.post(f"/v1/campaigns/{cid}/activate", **tok))
        world.add("campaign_id", cid)
    on_audience = {"kind": "audience", "audience_id": world.ids["audience_id"][0]}
    draft = _ok(api.post("/v1/campaigns", {"name": "draft", "target": on_audience, "action": actions[0],
                                           "schedule": {"kind": "once", "at": None}}, **tok), 201)
    world.add("campaign_id", draft["campaign_id"])
    runtime.tick(now)
    runtime.drain()

    for cid in world.ids["campaign_id"]:
        world.add("run_id", *(r["run_id"] for r in _ok(api.get(f"/v1/campaigns/{cid}/runs", **tok))["items"]))
    for c in CUSTOMERS:
        wallet = _ok(api.get(f"/v1/customers/{c}/coupons", **tok))["items"]
        world.add("instance_id", *(i["instance_id"] for i in wallet))
        world.add("message_id", *(m["message_id"] for m in _ok(api.get(f"/v1/customers/{c}/inbox", **tok))["items"]))
    world.add("task_id", *(t["task_id"] for t in _ok(api.get("/v1/staff/tasks", **tok))["items"]))
    staff = _ok(api.post("/v1/keys", {"role": "staff", "staff_id": STAFF, "label": "front desk"}, **tok), 201)
    operator = _ok(api.post("/v1/keys", {"role": "operator", "label": "ops"}, **tok), 201)
    world.staff_token = staff["api_key"]
    world.add("key_id", staff["key_id"], operator["key_id"])
    for kind in ("run_id", "instance_id", "message_id", "task_id"):
        assert world.ids.get(kind), f"seeding made no {kind}: {world.ids}"
    return world
