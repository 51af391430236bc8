"""Chapter: guardrails (防骚扰) — a second store coupon in the same week suppressed by the weekly cap, and a send in
quiet hours deferred to 09:00 and released exactly once."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.core.clock import to_iso
from infra.local.story.base import Ctx, progress_text, suppressed, total

WEEKLY_CAP = "cap_weekly_store_coupon"
SECOND_TIME, FRESH = 20, 10  # customers of the second campaign who got / did not get Monday's coupon


def chapter(ctx: Ctx) -> None:
    story = ctx.story
    ctx.at(ctx.local(0, "11:30"))
    story.section(f"Guardrails (防骚扰与额度) at {ctx.wall()}: weekly coupon cap, quiet hours")
    _weekly_cap(ctx)
    _quiet_hours(ctx)


def _reached(ctx: Ctx, campaign_id: str, status: str) -> set[str]:
    return {r["customer_id"] for r in ctx.pages(f"/v1/campaigns/{campaign_id}/recipients?status={status}")}


def _weekly_cap(ctx: Ctx) -> None:
    story = ctx.story
    first = ctx.ids["campaign.holdout"]
    monday = sorted(_reached(ctx, first, "reached"))
    everyone = {r["customer_id"] for r in ctx.pages(f"/v1/campaigns/{first}/recipients")}
    again = monday[:min(SECOND_TIME, len(monday) // 2)]
    fresh = ctx.pick(FRESH, lambda c: c["customer_id"] not in everyone)
    cid = ctx.campaign({"name": "周一加推券", "label": "增购", "description": "a second store coupon, same week",
                        "target": {"kind": "customers", "customer_ids": again + fresh},
                        "action": {"channel": "wallet", "coupons": [{"coupon_id": ctx.ids["coupon.second"]}]},
                        "schedule": {"kind": "once", "at": None}})
    ctx.ids["campaign.second"] = cid
    ctx.tick(ctx.now)
    runs = ctx.runs(cid)
    story.line(f"second store-coupon campaign {cid} '周一加推券' to {len(again)} customers who got Monday's "
               f"周一回流券 coupon and {len(fresh)} who did not:")
    for run in runs:
        story.line("  " + progress_text(run))
    capped = {r["customer_id"] for r in ctx.pages(f"/v1/campaigns/{cid}/recipients?status=suppressed")
              if r["reason"] == WEEKLY_CAP}
    reached = _reached(ctx, cid, "reached")
    story.line(f"  suppressed by {WEEKLY_CAP} (≤1 store coupon a customer a week): {len(capped)}; "
               f"reached: {len(reached)}")
    story.expect(suppressed(runs, WEEKLY_CAP) == len(capped) == len(again) and capped == set(again),
                 f"the {len(again)} customers with Monday's coupon are suppressed by the weekly cap, with the reason")
    story.expect(reached == set(fresh), f"the {len(fresh)} others get this week's coupon")


def _quiet_hours(ctx: Ctx) -> None:
    story = ctx.story
    ctx.at(ctx.now + timedelta(minutes=5))
    targets = ctx.pick(5)
    evening = ctx.local(0, "21:30")
    cid = ctx.campaign({"name": "晚间上新推送", "target": {"kind": "customers", "customer_ids": targets},
                        "action": {"channel": "inbox", "content_id": ctx.ids["content.plain"]},
                        "schedule": {"kind": "once", "at": to_iso(evening)}})
    story.line(f"campaign {cid} '晚间上新推送' scheduled for {ctx.wall(evening)} (quiet hours 21:00–09:00) "
               f"to {len(targets)} customers: {ctx.status(cid)}")
    ctx.tick(evening)
    night = ctx.runs(cid)
    for run in night:
        story.line(f"  {ctx.wall(evening)} " + progress_text(run))
    release = ctx.local(1, "09:00")
    ctx.tick(release - timedelta(minutes=2), settle=False)
    early = total(ctx.runs(cid), "succeeded")
    ctx.tick(release)
    morning = ctx.runs(cid)
    for run in morning:
        story.line(f"  {ctx.wall(release)} " + progress_text(run))
    inboxes = [sum(m["campaign_id"] == cid for m in ctx.get(f"/v1/customers/{c}/inbox")["items"]) for c in targets]
    story.line(f"  this campaign's messages in the {len(targets)} inboxes after release: {sum(inboxes)}")
    story.expect(total(night, "succeeded") == 0 and total(night, "pending") == len(targets),
                 "nothing is sent at 21:30: every recipient is deferred (pending)")
    story.expect(early == 0, "still nothing at 08:58")
    story.expect(total(morning, "succeeded") == len(targets) and inboxes == [1] * len(targets),
                 "released at 09:00, each customer got exactly one message")
