"""Chapter: coupon templates, a content template, a coupon straight to the wallet, one claimed from the inbox and
redeemed by an order that arrives through /v1/orders/batch and the activity stream."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.core.clock import to_iso
from infra.local.story.base import Ctx

THRESHOLD_COUPON: dict[str, Any] = {
    "name": "满50减10", "description": "store coupon: ¥10 off ¥50", "kind": "store_threshold",
    "threshold_fen": 5000, "discount_fen": 1000, "validity": {"kind": "relative", "days": 14},
    "claim_window": {"kind": "within_days", "days": 3}, "stock": 50_000, "per_customer_limit": 10}
SECOND_COUPON: dict[str, Any] = {
    "name": "满80减15", "description": "store coupon for a mid-week push", "kind": "store_threshold",
    "threshold_fen": 8000, "discount_fen": 1500, "validity": {"kind": "relative", "days": 7},
    "claim_window": {"kind": "any_time"}, "stock": 50_000}
ITEM_COUPON: dict[str, Any] = {
    "name": "招牌果切8折", "description": "20 % off the signature fruit cuts, at most ¥8", "kind": "item_discount",
    "percent_off": 20, "item_ids": ["sku_036", "sku_037", "sku_038", "sku_039"], "cap_fen": 800,
    "validity": {"kind": "fixed", "start": "2026-11-23", "end": "2026-12-31"},
    "claim_window": {"kind": "any_time"}, "stock": 20_000, "per_customer_limit": 3}
COUPON_TEXT = "{nickname}，{store_name}送你一张{coupon_name}（{coupon_value}），点这里领取：{claim_link}"
PLAIN_TEXT = "{nickname}，{store_name}本周新到一批阳光玫瑰，欢迎来店里尝尝！"


def chapter(ctx: Ctx) -> None:
    story = ctx.story
    ctx.at(ctx.now + timedelta(minutes=2))
    story.section(f"Coupons and content (券与内容) at {ctx.wall()}: templates, wallet, inbox, claim, redemption")
    for key, body in (("coupon.threshold", THRESHOLD_COUPON), ("coupon.second", SECOND_COUPON),
                      ("coupon.item", ITEM_COUPON)):
        made = ctx.post("/v1/coupons", body)
        ctx.ids[key] = made["coupon_id"]
        story.line(f"coupon template {made['coupon_id']}: {made['name']} = {made['value_text']} ({made['kind']}, "
                   f"stock {made['stock']}, validity {made['validity']['kind']}, claim {made['claim_window']['kind']})")
    for key, name, text in (("content.coupon", "领券提醒", COUPON_TEXT), ("content.plain", "新品上架", PLAIN_TEXT)):
        made = ctx.post("/v1/contents", {"name": name, "text": text})
        ctx.ids[key] = made["content_id"]
        story.line(f"content {made['content_id']} '{name}' uses {{{'}, {'.join(made['variables'])}}}")

    threshold = ctx.ids["coupon.threshold"]
    wallet_to, inbox_to = ctx.pick(1), ctx.pick(1)
    wallet_id = ctx.campaign({"name": "开业礼·直充钱包", "target": {"kind": "customers", "customer_ids": wallet_to},
                              "action": {"channel": "wallet", "coupons": [{"coupon_id": threshold}]},
                              "schedule": {"kind": "once", "at": None}})
    inbox_id = ctx.campaign({"name": "开业礼·站内信领券", "target": {"kind": "customers", "customer_ids": inbox_to},
                             "action": {"channel": "inbox", "coupons": [{"coupon_id": threshold}],
                                        "content_id": ctx.ids["content.coupon"]},
                             "schedule": {"kind": "once", "at": None}})
    ctx.tick(ctx.now)
    story.line(f"campaigns {wallet_id} (wallet) and {inbox_id} (inbox) sent once-now; tick + drain")

    direct = ctx.get(f"/v1/customers/{wallet_to[0]}/coupons")["items"]
    story.line(f"{wallet_to[0]}'s wallet: " + "; ".join(f"{c['name']} {c['status']}" for c in direct))
    story.expect([c["status"] for c in direct] == ["claimed"], "direct-to-wallet issues the coupon already claimed")

    cid = inbox_to[0]
    inbox = ctx.get(f"/v1/customers/{cid}/inbox")["items"]
    nickname = ctx.customer(cid)["nickname"]
    if inbox:
        story.line(f"{cid}'s inbox: “{inbox[0]['text']}”")
    story.expect(len(inbox) == 1 and len(inbox[0]["coupons"]) == 1, "the inbox message carries one claimable coupon")
    story.expect(bool(inbox) and nickname in inbox[0]["text"] and "{" not in inbox[0]["text"],
                 f"the message is the content template rendered for {nickname} (not the campaign name)")
    held = ctx.get(f"/v1/customers/{cid}/coupons")["items"]
    story.expect([c["status"] for c in held] == ["issued"], "a message issues its coupon claimable (status issued)")
    if not held:
        return
    instance = held[0]["instance_id"]
    claimed = ctx.post(f"/v1/coupon-instances/{instance}/claim", {"customer_id": cid})
    story.line(f"POST /v1/coupon-instances/{instance}/claim → {claimed['status']}, "
               f"valid until {claimed['valid_until']}")
    again = ctx.call("POST", f"/v1/coupon-instances/{instance}/claim", {"customer_id": cid}, expect=(409,))
    story.line(f"claiming it again → 409 {again['error']['reason']}")

    ctx.at(ctx.now + timedelta(minutes=6))
    order = {"order_id": f"demo-redeem-{cid}", "customer_id": cid, "paid_at": to_iso(ctx.now - timedelta(minutes=5)),
             "amount_fen": 6800, "discount_fen": 1000, "coupon_instance_id": instance, "order_type": "dine_in",
             "items": [{"item_id": "sku_007", "quantity": 2, "price_fen": 3400}]}
    accepted = ctx.post("/v1/orders/batch", {"items": [order]})["accepted"]
    drained = ctx.runtime.drain()
    after = ctx.get(f"/v1/customers/{cid}/coupons")["items"][0]
    story.line(f"{ctx.wall()}: order {order['order_id']} ¥68.00 with the coupon via /v1/orders/batch "
               f"({accepted} accepted, {drained.stream_records} stream records) → coupon {after['status']}, "
               f"order {after['order_id']}, discount ¥{(after['discount_fen'] or 0) / 100:.2f}")
    story.expect(after["status"] == "redeemed" and after["order_id"] == order["order_id"],
                 "the order redeemed the claimed coupon through the activity stream")
