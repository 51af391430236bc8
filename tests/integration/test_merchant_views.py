"""Views a merchant asks for (issue 18 item 11): history rows name their campaign and filter by it; the campaign
list searches by name and filters by schedule kind and channel."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from tests.integration.test_reports_api import NOW, issue, make_campaign, make_coupon, start


def test_history_rows_carry_the_campaign_and_filter_by_it(api: Any, merchant: Any, runtime: Any, clock: Any) -> None:
    start(clock, runtime)
    coupon = make_coupon(api, merchant)
    spring = make_campaign(api, merchant, name="春季回馈", coupon=coupon)
    autumn = make_campaign(api, merchant, name="秋季上新", coupon=coupon)
    a = issue(merchant, coupon, "c1", spring, NOW - timedelta(hours=3))
    b = issue(merchant, coupon, "c2", autumn, NOW - timedelta(hours=2))
    c = issue(merchant, coupon, "c3", spring, NOW - timedelta(hours=1))
    rows = api.get("/v1/history", token=merchant.token).json["items"]
    assert [(r["instance_id"], r["campaign_id"], r["campaign_name"]) for r in rows] == [
        (c, spring, "春季回馈"), (b, autumn, "秋季上新"), (a, spring, "春季回馈")]
    only = api.get(f"/v1/history?campaign_id={spring}", token=merchant.token).json["items"]
    assert [r["instance_id"] for r in only] == [c, a]
    # the filter pages through the cursor like the status filter: every row once
    seen, cursor = [], None
    while True:
        page = api.get(f"/v1/history?campaign_id={spring}&limit=1" + (f"&cursor={cursor}" if cursor else ""),
                       token=merchant.token).json
        seen += [r["instance_id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [c, a]
    text = api.get(f"/v1/history?format=csv&campaign_id={autumn}", token=merchant.token).text
    exported = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert [(r["instance_id"], r["campaign_id"], r["campaign_name"]) for r in exported] == [(b, autumn, "秋季上新")]
    # renamed: the history shows the campaign's name now
    current = api.get(f"/v1/campaigns/{autumn}", token=merchant.token).json
    assert api.patch(f"/v1/campaigns/{autumn}", {"name": "秋季焕新"}, token=merchant.token,
                     headers={"If-Match": str(current["version"])}).status == 200
    assert api.get(f"/v1/history?campaign_id={autumn}", token=merchant.token).json["items"][0][
        "campaign_name"] == "秋季焕新"
    assert api.get("/v1/history?campaign_id=bad id", token=merchant.token).status == 400


def _campaign(api: Any, merchant: Any, name: str, coupon: str, schedule: dict[str, Any], channel: str) -> str:
    action: dict[str, Any] = {"channel": channel, "coupons": [{"coupon_id": coupon, "quantity": 1}]}
    if channel == "inbox":
        content = api.post("/v1/contents", {"name": "c", "text": "会员日到了"},
                           token=merchant.token)
        assert content.status == 201, content
        action["content_id"] = content.json["content_id"]
    body = {"name": name, "target": {"kind": "customers", "customer_ids": ["c1"]}, "action": action,
            "schedule": schedule}
    r = api.post("/v1/campaigns", body, token=merchant.token)
    assert r.status == 201, r
    return str(r.json["campaign_id"])


def test_campaign_list_searches_by_name_and_filters_by_schedule_kind_and_channel(api: Any, merchant: Any) -> None:
    coupon = make_coupon(api, merchant)
    weekly = {"kind": "recurring", "frequency": "weekly", "time": "10:00", "weekdays": [1]}
    triggered = {"kind": "triggered", "event": "purchase", "delay_days": 3, "time": "10:00"}
    ids = {
        "once_wallet": _campaign(api, merchant, "双十一 大促", coupon, {"kind": "once", "at": None}, "wallet"),
        "weekly_wallet": _campaign(api, merchant, "每周会员日", coupon, weekly, "wallet"),
        "weekly_inbox": _campaign(api, merchant, "Weekly Member Day", coupon, weekly, "inbox"),
        "triggered": _campaign(api, merchant, "首单后三天回访", coupon, triggered, "wallet"),
    }

    def listed(query: str, limit: int = 50) -> list[str]:
        found, cursor = [], None
        while True:
            path = f"/v1/campaigns?{query}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
            r = api.get(path, token=merchant.token)
            assert r.status == 200, r
            found += [c["campaign_id"] for c in r.json["items"]]
            cursor = r.json["next_cursor"]
            if not cursor:
                return sorted(found)

    def named(*keys: str) -> list[str]:
        return sorted(ids[k] for k in keys)

    assert listed("name=会员日") == named("weekly_wallet")
    assert listed("name=member") == named("weekly_inbox")  # case-insensitive
    assert listed("schedule_kind=recurring") == named("weekly_wallet", "weekly_inbox")
    assert listed("schedule_kind=recurring", limit=1) == named("weekly_wallet", "weekly_inbox")
    assert listed("schedule_kind=triggered") == named("triggered")
    assert listed("channel=inbox") == named("weekly_inbox")
    assert listed("channel=wallet&schedule_kind=recurring") == named("weekly_wallet")
    assert listed("status=draft&name=大促") == named("once_wallet")
    assert listed("name=不存在") == []
    assert listed("schedule_kind=once", limit=1) == named("once_wallet")
    for bad, field in (("schedule_kind=hourly", "query.schedule_kind"), ("channel=fax", "query.channel"),
                       ("name=", "query.name")):
        r = api.get(f"/v1/campaigns?{bad}", token=merchant.token)
        assert r.status == 400 and r.json["error"]["field"] == field, (bad, r.json)


def test_customer_orders_are_listed_newest_first_page_by_page(api: Any, merchant: Any, runtime: Any,
                                                               clock: Any) -> None:
    start(clock, runtime)
    assert api.post("/v1/customers/batch", {"items": [{"customer_id": "c1"}, {"customer_id": "c2"}]},
                    token=merchant.token).status == 200
    orders = [
        {"order_id": "o1", "customer_id": "c1", "paid_at": "2026-11-20T10:00:00+08:00", "amount_fen": 1000},
        # earlier in UTC than o1 although its local text sorts later: 2026-11-20T01:30:00Z
        {"order_id": "o2", "customer_id": "c1", "paid_at": "2026-11-20T09:30:00+08:00", "amount_fen": 2000,
         "items": [{"item_id": "jersey-milk", "quantity": 2, "price_fen": 1000}], "order_type": "delivery"},
        {"order_id": "o3", "customer_id": "c1", "paid_at": "2026-11-22T08:00:00Z", "amount_fen": 3000},
        {"order_id": "o4", "customer_id": "c2", "paid_at": "2026-11-21T08:00:00Z", "amount_fen": 4000},
    ]
    assert api.post("/v1/orders/batch", {"items": orders}, token=merchant.token).json["accepted"] == 4
    page = api.get("/v1/customers/c1/orders", token=merchant.token).json
    assert [o["order_id"] for o in page["items"]] == ["o3", "o1", "o2"] and page["next_cursor"] is None
    second = page["items"][2]
    assert (second["amount_fen"], second["order_type"], second["items"]) == (
        2000, "delivery", [{"item_id": "jersey-milk", "quantity": 2, "price_fen": 1000}])
    # a refund re-sends the order: it stays one row, with its new status
    refund = {**orders[2], "status": "refunded"}
    assert api.post("/v1/orders/batch", {"items": [refund]}, token=merchant.token).json["accepted"] == 1
    seen, cursor = [], None
    while True:
        r = api.get("/v1/customers/c1/orders?limit=1" + (f"&cursor={cursor}" if cursor else ""), token=merchant.token)
        assert r.status == 200, r
        seen += [(o["order_id"], o["status"]) for o in r.json["items"]]
        cursor = r.json["next_cursor"]
        if not cursor:
            break
    assert seen == [("o3", "refunded"), ("o1", "paid"), ("o2", "paid")]
    assert [o["order_id"] for o in api.get("/v1/customers/c2/orders", token=merchant.token).json["items"]] == ["o4"]
    other = api.get("/v1/customers/c1/orders?limit=1", token=merchant.token).json["next_cursor"]
    assert api.get(f"/v1/customers/c2/orders?cursor={other}", token=merchant.token).status == 400
    assert api.get("/v1/customers/nobody/orders", token=merchant.token).status == 404
    assert api.post("/v1/customers/batch", {"items": [{"customer_id": "c3"}]}, token=merchant.token).status == 200
    assert api.get("/v1/customers/c3/orders", token=merchant.token).json == {"items": [], "next_cursor": None}
