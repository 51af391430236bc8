"""Chapter: a once campaign with a 10 % holdout, a daily campaign over three simulated days (paused for one), and a
triggered campaign fired by purchases ingested after its activation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.core.clock import to_iso
from infra.local.story.base import Ctx, progress_text, suppressed, total

TRIGGER_ITEM = "sku_039"


def chapter(ctx: Ctx) -> None:
    story = ctx.story
    ctx.at(ctx.local(0, "09:50"))
    story.section(f"Campaigns (营销计划) from {ctx.wall()}: once with holdout, daily, triggered; runs and progress")
    once = _once_with_holdout(ctx)
    daily, trigger, buyers = _start_daily_and_triggered(ctx)
    _three_days(ctx, once, daily, trigger, buyers)


def _once_with_holdout(ctx: Ctx) -> str:
    story = ctx.story
    audience = ctx.ids["audience.win_back"]
    size = ctx.post("/v1/audiences/estimate", {"audience_id": audience})["count"]
    cid = ctx.campaign({"name": "周一回流券", "label": "增购", "description": "win back lapsed buyers, 10 % held out",
                        "target": {"kind": "audience", "audience_id": audience},
                        "action": {"channel": "wallet", "coupons": [{"coupon_id": ctx.ids["coupon.threshold"]}]},
                        "schedule": {"kind": "once", "at": None}, "holdout_percent": 10,
                        "attribution_window_days": 7})
    ctx.ids["campaign.holdout"] = cid
    ctx.tick(ctx.now)
    runs = ctx.runs(cid)
    story.line(f"once campaign {cid} '周一回流券' → audience {audience} ({size} members now), wallet coupon, "
               "holdout 10 %, 7-day attribution window")
    for run in runs:
        story.line("  " + progress_text(run))
    if runs:
        one = ctx.get(f"/v1/runs/{runs[0]['run_id']}")
        story.line(f"  GET /v1/runs/{one['run_id']}: status {one['status']}, started {one['started_at']}, "
                   f"completed {one['completed_at']}; campaign is now {ctx.status(cid)}")
    targeted, held = total(runs, "targeted"), total(runs, "held_out")
    story.expect(len(runs) == 1 and targeted == size > 0, "one run targeting every audience member")
    story.expect(0 < held < targeted and abs(held / max(targeted, 1) - 0.10) < 0.05,
                 f"about 10 % held out by hash ({held}/{targeted} = {held / max(targeted, 1):.1%})")
    story.expect(total(runs, "succeeded") > 0, "the campaign reached customers")
    return cid


def _start_daily_and_triggered(ctx: Ctx) -> tuple[str, str, list[str]]:
    story = ctx.story
    ctx.at(ctx.now + timedelta(minutes=1))
    daily = ctx.campaign({"name": "每日上新提醒", "description": "daily 10:00 news for prospects, Mon-Wed",
                          "target": {"kind": "audience", "audience_id": "key_potential"},
                          "action": {"channel": "inbox", "content_id": ctx.ids["content.plain"]},
                          "schedule": {"kind": "recurring", "frequency": "daily", "time": "10:00",
                                       "start_date": ctx.local(0, "10:00").date().isoformat(),
                                       "end_date": ctx.local(2, "10:00").date().isoformat()}})
    got = ctx.get(f"/v1/campaigns/{daily}")
    story.line(f"daily campaign {daily} '每日上新提醒' (key_potential, inbox, 10:00 Mon–Wed): {got['status']}, "
               f"next run {got['next_run_at']}")
    trigger = ctx.campaign({"name": "果切复购券", "description": "bought the fruit cut? a coupon for it the next day",
                            "target": {"kind": "rule", "rule": {"all": [
                                {"field": "phone_bound", "op": "eq", "value": True}]}},
                            "action": {"channel": "wallet", "coupons": [{"coupon_id": ctx.ids["coupon.item"]}]},
                            "schedule": {"kind": "triggered", "event": "purchase_items", "item_ids": [TRIGGER_ITEM],
                                         "delay_days": 1, "time": "10:00"}})
    story.line(f"triggered campaign {trigger} '果切复购券': 1 day after buying {TRIGGER_ITEM}, at 10:00, "
               f"for phone-bound customers (trigger AND filter): {ctx.status(trigger)}")
    ctx.tick(ctx.local(0, "10:00"))
    for run in ctx.runs(daily):
        story.line(f"  {ctx.wall(ctx.local(0, '10:00'))} daily " + progress_text(run))

    ctx.at(ctx.local(0, "11:00"))
    buyers = ctx.pick(6)
    orders = [{"order_id": f"demo-cut-{c}", "customer_id": c, "paid_at": to_iso(ctx.now - timedelta(minutes=10)),
               "amount_fen": 3600, "items": [{"item_id": TRIGGER_ITEM if i < 4 else "sku_001", "quantity": 1,
                                               "price_fen": 3600}]} for i, c in enumerate(buyers)]
    for attempt in ("ingested", "sent again (a client retry)"):
        body = ctx.post("/v1/orders/batch", {"items": orders})
        ctx.runtime.drain()
        story.line(f"{ctx.wall()}: {len(orders)} new orders {attempt}: {body['accepted']} accepted, "
                   f"4 of them contain {TRIGGER_ITEM}")
    return daily, trigger, buyers[:4]


def _three_days(ctx: Ctx, once: str, daily: str, trigger: str, buyers: list[str]) -> None:
    story = ctx.story
    ctx.at(ctx.local(0, "11:05"))
    paused = ctx.post(f"/v1/campaigns/{daily}/pause")
    story.line(f"{ctx.wall()}: POST /v1/campaigns/{daily}/pause → {paused['status']}")

    ctx.tick(ctx.local(1, "10:00"))
    story.line(f"{ctx.wall(ctx.local(1, '10:00'))}: tick (catching up every minute since Monday)")
    runs = ctx.runs(trigger)
    for run in runs:
        story.line("  triggered " + progress_text(run))
    bound = [c for c in buyers if ctx.customer(c)["phone_bound"]]
    story.expect(len(runs) == 1 and total(runs, "succeeded") == len(bound)
                 and total(runs, "succeeded") + suppressed(runs, "not_in_target") == len(buyers),
                 f"the {len(buyers)} {TRIGGER_ITEM} buyers were touched once each despite the resent batch: "
                 f"{len(bound)} phone-bound got the coupon, the rest are not_in_target")
    held = [r for r in ctx.runs(daily)]
    story.expect(len(held) == 1, f"the paused daily campaign skipped Tuesday's 10:00 (runs so far: {len(held)})")

    ctx.at(ctx.local(1, "10:10"))
    resumed = ctx.post(f"/v1/campaigns/{daily}/resume")
    story.line(f"{ctx.wall()}: POST /v1/campaigns/{daily}/resume → {resumed['status']}")
    ctx.tick(ctx.local(2, "10:00"))
    runs = sorted(ctx.runs(daily), key=lambda r: r["occurrence"])
    story.line(f"{ctx.wall(ctx.local(2, '10:00'))}: tick; GET /v1/campaigns/{daily}/runs:")
    for run in runs:
        story.line(f"  {run['occurrence']} " + progress_text(run))
    status = ctx.status(daily)
    story.line(f"  the end date has passed and the last run is complete: campaign {status}")
    story.expect(len(runs) == 2 and all(r["progress"]["succeeded"] > 0 for r in runs),
                 "the daily campaign ran Monday and Wednesday and reached prospects each time")
    story.expect(status == "ended", "the daily campaign ended after its last occurrence")
    ctx.ids["campaign.daily"], ctx.ids["campaign.trigger"] = daily, trigger
    _ = once
    summary: dict[str, Any] = {n: ctx.status(c) for n, c in ctx.campaigns.items()}
    story.line("campaign states: " + ", ".join(f"{n} {s}" for n, s in summary.items()))
