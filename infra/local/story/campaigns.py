"""Chapters: a once campaign with a 10 % holdout sent in batches (paused and resumed between them), a daily
campaign, a triggered one fired by purchases ingested after its activation — and their second day."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.core.clock import to_iso
from infra.local.story.base import Ctx, progress_text, suppressed, total

TRIGGER_ITEM = "sku_039"
SLICES, INTERVAL = 3, 20  # the once campaign goes out in three batches, 20 minutes apart


def chapter(ctx: Ctx) -> None:
    story = ctx.story
    ctx.at(ctx.local(0, "09:50"))
    story.section(f"Campaigns (营销计划) on {ctx.wall()}: once with holdout in batches, daily, triggered")
    audience = ctx.ids["audience.win_back"]
    size = ctx.post("/v1/audiences/estimate", {"audience_id": audience})["count"]
    batch = max(1, -(-size // SLICES))
    once = ctx.campaign({"name": "周一回流券", "label": "增购",
                         "description": "a coupon for buyers quiet for 3 days, 10 % held out",
                         "target": {"kind": "audience", "audience_id": audience},
                         "action": {"channel": "wallet", "coupons": [{"coupon_id": ctx.ids["coupon.threshold"]}]},
                         "schedule": {"kind": "once", "at": None}, "holdout_percent": 10,
                         "sending": {"mode": "batched", "batch_size": batch, "interval_minutes": INTERVAL},
                         "attribution_window_days": 7})
    ctx.ids["campaign.holdout"] = once
    story.line(f"once campaign {once} '周一回流券' → custom audience {audience} ({size} members now), wallet coupon, "
               f"10 % holdout, 7-day attribution, in batches of {batch} every {INTERVAL} min")
    ctx.tick(ctx.now)
    _show(ctx, once, "first batch")

    daily = ctx.campaign({"name": "每日上新提醒", "description": "daily 10:00 news for prospects, Mon-Tue",
                          "target": {"kind": "audience", "audience_id": "key_potential"},
                          "action": {"channel": "inbox", "content_id": ctx.ids["content.plain"]},
                          "schedule": {"kind": "recurring", "frequency": "daily", "time": "10:00",
                                       "start_date": ctx.local(0, "10:00").date().isoformat(),
                                       "end_date": ctx.local(1, "10:00").date().isoformat()}})
    ctx.ids["campaign.daily"] = daily
    got = ctx.get(f"/v1/campaigns/{daily}")
    story.line(f"daily campaign {daily} '每日上新提醒' (built-in key_potential, inbox, 10:00 Mon–Tue): "
               f"{got['status']}, next run {got['next_run_at']}")
    trigger = ctx.campaign({"name": "果切复购券", "description": "bought the fruit cut? a coupon for it the next day",
                            "target": {"kind": "rule", "rule": {"all": [
                                {"field": "phone_bound", "op": "eq", "value": True}]}},
                            "action": {"channel": "wallet", "coupons": [{"coupon_id": ctx.ids["coupon.item"]}]},
                            "schedule": {"kind": "triggered", "event": "purchase_items", "item_ids": [TRIGGER_ITEM],
                                         "delay_days": 1, "time": "10:00"}})
    ctx.ids["campaign.trigger"] = trigger
    story.line(f"triggered campaign {trigger} '果切复购券': 1 day after buying {TRIGGER_ITEM}, at 10:00, for "
               f"phone-bound customers (trigger AND filter): {ctx.status(trigger)}")

    ctx.tick(ctx.local(0, "10:00"))
    for run in ctx.runs(daily):
        story.line(f"{ctx.wall()} daily " + progress_text(run))
    story.expect(len(ctx.runs(daily)) == 1 and total(ctx.runs(daily), "succeeded") > 0,
                 "the daily campaign's first run reached prospects at 10:00")

    ctx.at(ctx.local(0, "10:02"))
    story.line(f"{ctx.wall()}: POST /v1/campaigns/{once}/pause → {ctx.post(f'/v1/campaigns/{once}/pause')['status']}")
    ctx.tick(ctx.local(0, "10:10"))
    parked = _show(ctx, once, "second batch due while paused")
    story.expect(parked["progress"]["pending"] > 0, "the paused campaign holds its second batch back (pending)")
    ctx.at(ctx.local(0, "10:15"))
    story.line(f"{ctx.wall()}: POST /v1/campaigns/{once}/resume → "
               f"{ctx.post(f'/v1/campaigns/{once}/resume')['status']}")
    ctx.runtime.drain()
    _show(ctx, once, "second batch after resume")
    ctx.tick(ctx.local(0, "09:50") + timedelta(minutes=(SLICES - 1) * INTERVAL))
    run = _show(ctx, once, "last batch")
    targeted, held = run["progress"]["targeted"], run["progress"]["held_out"]
    story.expect(targeted == size > 0 and run["progress"]["pending"] == 0 and run["progress"]["succeeded"] > 0,
                 "every audience member was targeted once and the campaign reached customers")
    spread = 3 * (0.09 * targeted) ** 0.5 + 1  # three standard deviations of a 10 % binomial
    story.expect(0 < held < targeted and abs(held - 0.10 * targeted) <= spread,
                 f"about 10 % held out by hash ({held}/{targeted} = {held / max(targeted, 1):.1%})")

    ctx.tick(ctx.local(0, "11:00"))
    one = ctx.get(f"/v1/runs/{run['run_id']}")
    story.line(f"{ctx.wall()} GET /v1/runs/{one['run_id']}: {one['status']}, started {one['started_at']}, "
               f"completed {one['completed_at']}; campaign {ctx.status(once)}")
    story.expect(one["status"] == "complete" and ctx.status(once) == "ended",
                 "the run completed after its last batch and the once campaign ended")
    # New buyers outside the once campaign, so its attribution (last touch) stays its own.
    monday = {r["customer_id"] for r in ctx.pages(f"/v1/campaigns/{once}/recipients")}
    # Three phone-bound buyers of the item, one without a bound phone (the target filter), two buying other things.
    buyers = (ctx.pick(3, lambda c: c["customer_id"] not in monday and c["phone_bound"])
              + ctx.pick(1, lambda c: c["customer_id"] not in monday and not c["phone_bound"])
              + ctx.pick(2, lambda c: c["customer_id"] not in monday))
    ctx.ids["trigger.buyers"] = ",".join(buyers[:4])
    orders = [{"order_id": f"demo-cut-{c}", "customer_id": c, "paid_at": to_iso(ctx.now - timedelta(minutes=10)),
               "amount_fen": 3600, "items": [{"item_id": TRIGGER_ITEM if i < 4 else "sku_001", "quantity": 1,
                                               "price_fen": 3600}]} for i, c in enumerate(buyers)]
    for attempt in ("ingested", "sent again (a client retry)"):
        body = ctx.post("/v1/orders/batch", {"items": orders})
        ctx.runtime.drain()
        story.line(f"{ctx.wall()}: {len(orders)} new orders {attempt}: {body['accepted']} accepted, 4 of them with "
                   f"{TRIGGER_ITEM} → touches due tomorrow 10:00")


def _show(ctx: Ctx, campaign_id: str, label: str) -> dict[str, Any]:
    runs = ctx.runs(campaign_id)
    for run in runs:
        ctx.story.line(f"{ctx.wall()} {label}: " + progress_text(run))
    return runs[0] if runs else {"progress": {"pending": 0, "targeted": 0, "held_out": 0, "succeeded": 0}}


def day_two(ctx: Ctx) -> None:
    story = ctx.story
    ctx.at(ctx.local(1, "10:00"))
    story.section(f"Campaigns, day two ({ctx.wall()}): the daily campaign's last run, the triggered touches")
    daily, trigger = ctx.ids["campaign.daily"], ctx.ids["campaign.trigger"]
    ctx.tick(ctx.now)
    runs = sorted(ctx.runs(daily), key=lambda r: r["occurrence"])
    story.line(f"GET /v1/campaigns/{daily}/runs:")
    for run in runs:
        story.line(f"  {run['occurrence']} " + progress_text(run))
    status = ctx.status(daily)
    story.line(f"  the end date is reached and the last run is complete: campaign {status}")
    story.expect(len(runs) == 2 and all(r["progress"]["succeeded"] > 0 for r in runs),
                 "the daily campaign ran Monday and Tuesday, re-evaluating its audience each time")
    story.expect(status == "ended", "the daily campaign ended after its last occurrence")

    runs = ctx.runs(trigger)
    for run in runs:
        story.line("triggered " + progress_text(run))
    buyers = ctx.ids["trigger.buyers"].split(",")
    bound = [c for c in buyers if ctx.customer(c)["phone_bound"]]
    story.expect(len(runs) == 1 and total(runs, "succeeded") == len(bound)
                 and total(runs, "succeeded") + suppressed(runs, "not_in_target") == len(buyers),
                 f"the {len(buyers)} {TRIGGER_ITEM} buyers were touched once each despite the resent batch: "
                 f"{len(bound)} phone-bound got the coupon, the rest are not_in_target")
    story.line("campaign states: " + ", ".join(f"{n} {ctx.status(c)}" for n, c in ctx.campaigns.items()))
