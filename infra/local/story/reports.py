"""Chapter: orders after the sends (reached, held-out, coupon redemptions, a refund), then every demo campaign's
report with funnel, revenue, coupons, reasons and holdout lift, and the merchant dashboard."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.core.clock import to_iso
from chalicelib.reports.table import render_report
from infra.local.story.base import Ctx


def _recipients(ctx: Ctx, campaign_id: str, status: str) -> list[dict[str, Any]]:
    return sorted(ctx.pages(f"/v1/campaigns/{campaign_id}/recipients?status={status}"),
                  key=lambda r: str(r["customer_id"]))


def _order(ctx: Ctx, tag: str, customer_id: str, amount: int, coupon: str | None = None, discount: int = 0,
           item: str = "sku_012") -> dict[str, Any]:
    body: dict[str, Any] = {"order_id": f"demo-{tag}-{customer_id}", "customer_id": customer_id,
                            "paid_at": to_iso(ctx.now - timedelta(minutes=30)), "amount_fen": amount,
                            "discount_fen": discount, "order_type": "delivery",
                            "items": [{"item_id": item, "quantity": 1, "price_fen": amount + discount}]}
    if coupon:
        body["coupon_instance_id"] = coupon
    return body


def chapter(ctx: Ctx) -> None:
    story = ctx.story
    ctx.at(ctx.local(1, "10:30"))
    story.section(f"Reports (效果) at {ctx.wall()}: orders after the sends, campaign reports, dashboard")
    holdout = ctx.ids["campaign.holdout"]
    # Buyers of the holdout campaign whom no other campaign reached, so last-touch attribution keeps them there.
    elsewhere = {r["customer_id"] for cid in ctx.campaigns.values() if cid != holdout
                 for r in _recipients(ctx, cid, "reached")}
    treated = [r for r in _recipients(ctx, holdout, "reached") if r["customer_id"] not in elsewhere][::3]
    control = [r for r in _recipients(ctx, holdout, "held_out") if r["customer_id"] not in elsewhere][::6]
    orders: list[dict[str, Any]] = []
    redeemers = 0
    for n, r in enumerate(treated):
        coupon = next((c["instance_id"] for c in r["coupons"] if c["status"] == "claimed"), None)
        if coupon and n % 2 == 0:
            orders.append(_order(ctx, "back", r["customer_id"], 6800 + 100 * n, coupon, 1000))
            redeemers += 1
        else:
            orders.append(_order(ctx, "back", r["customer_id"], 4200 + 100 * n))
    orders += [_order(ctx, "ctl", r["customer_id"], 4500 + 100 * n) for n, r in enumerate(control)]
    second = ctx.ids.get("campaign.second")
    second_buyers = _recipients(ctx, second, "reached")[:3] if second else []
    for n, r in enumerate(second_buyers):
        coupon = next((c["instance_id"] for c in r["coupons"]), None) if n == 0 else None
        orders.append(_order(ctx, "wed", r["customer_id"], 9900, coupon, 1500 if coupon else 0))
    trigger = _recipients(ctx, ctx.ids["campaign.trigger"], "reached")[:1]
    for r in trigger:
        coupon = next((c["instance_id"] for c in r["coupons"]), None)
        orders.append(_order(ctx, "cut", r["customer_id"], 2880, coupon, 720, item="sku_039"))
    for start in range(0, len(orders), 500):
        ctx.post("/v1/orders/batch", {"items": orders[start:start + 500]})
    ctx.runtime.drain()
    refund = next((o for o in orders if o["order_id"].startswith("demo-back-") and "coupon_instance_id" in o), None)
    if refund:
        ctx.at(ctx.now + timedelta(minutes=20))
        ctx.post("/v1/orders/batch", {"items": [{**refund, "status": "refunded"}]})
        ctx.runtime.drain()
    story.line("simulated buyers: 1 in 3 of the customers 周一回流券 reached (and no other campaign), 1 in 6 of those "
               "it held out")
    story.line(f"{len(orders)} orders via /v1/orders/batch: {len(treated)} from customers reached by 周一回流券 "
               f"({redeemers} redeeming its coupon), {len(control)} from its held-out customers, "
               f"{len(second_buyers)} after 周一加推券, {len(trigger)} redeeming a 果切复购券; then "
               f"{refund['order_id'] if refund else 'no order'} refunded")

    reports: dict[str, dict[str, Any]] = {}
    for cid in ctx.campaigns.values():
        report = ctx.get(f"/v1/campaigns/{cid}/report")
        reports[cid] = report
        story.line("")
        story.line(render_report(report))
    main = reports[holdout]
    lift = main["lift"]
    story.line("")
    story.expect(main["revenue"]["orders"] == len(treated) - (1 if refund else 0),
                 f"周一回流券 is credited with its reached customers' orders, less the refund "
                 f"({main['revenue']['orders']} of {len(treated) - (1 if refund else 0)})")
    story.expect(main["revenue"]["coupon_orders"] == redeemers - (1 if refund else 0) and
                 main["coupons"]["redeemed"] == redeemers,
                 f"its {redeemers} redeemed coupons are counted; the refunded order no longer counts as a coupon order")
    story.expect(main["revenue"]["control_orders"] == len(control) and lift["control_conversions"] == len(control),
                 "held-out customers' orders are the control conversions")
    fewest = min(lift["treated_conversions"], lift["control_conversions"])
    enough = lift["control_n"] >= lift["min_per_arm"] and fewest >= lift["min_conversions_per_arm"]
    story.expect(lift["status"] == ("ok" if enough else "insufficient") and
                 (not enough or lift["ci_low"] <= lift["difference"] <= lift["ci_high"]),
                 f"lift is {lift['status']} (control arm {lift['control_n']}, needs ≥ {lift['min_per_arm']} customers "
                 f"and ≥ {lift['min_conversions_per_arm']} conversions per arm for a 95 % interval)")

    ctx.at(ctx.local(2, "08:00"))
    board = ctx.get("/v1/dashboard?period=7d")
    story.line(f"GET /v1/dashboard?period=7d at {ctx.wall()} ({board['day_from']} … {board['day_to']}, "
               f"{board['timezone']}):")
    story.line(f"  sends {board['sends']}, reached {board['reached']} "
               f"({(board['reach_rate'] or 0) * 100:.1f}%), coupons issued {board['coupons_issued']}, "
               f"redeemed {board['coupons_redeemed']}, attributed orders {board['attributed_orders']}, "
               f"GMV ¥{board['attributed_gmv_fen'] / 100:,.2f}, discount ¥{board['discount_fen'] / 100:,.2f}")
    for top in board["top_campaigns"][:5]:
        story.line(f"  top: {top['name']:<10} reached {top['reached']:>5}  orders {top['orders']:>4}  "
                   f"GMV ¥{top['gmv_fen'] / 100:,.2f}")
    story.expect(board["reached"] > 0 and board["attributed_orders"] >= main["revenue"]["orders"] > 0,
                 "the dashboard adds up the week's reach and attributed orders")
