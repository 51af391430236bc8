"""Chapters from the seeds (issue 18): 003's staff follow-up after a coupon message (a task is no customer message),
and 004's daily coupon reaching the same customers on consecutive days under a campaign-level loosening."""

from __future__ import annotations

from typing import Any

from infra.local.story.base import ZONE, Ctx, progress_text, suppressed

BREAKFAST_COUPON: dict[str, Any] = {
    "name": "早餐立减5元", "description": "004: a store coupon handed out every morning", "kind": "store_threshold",
    "threshold_fen": 1500, "discount_fen": 500, "validity": {"kind": "relative", "days": 1},
    "claim_window": {"kind": "any_time"}, "stock": 10_000, "per_customer_limit": 30}
FOLLOWED, DAILY, DAYS = 3, 5, 3  # 003's customers with a staff owner; 004's daily-coupon customers and days
FIRST_DAY = 3  # 004's first day: Thursday of the demo's week (its days stay in one ISO week)
LOOSER = 7  # 004: the campaign hands each customer up to 7 store coupons a week (the shop-wide cap stays 1)


def follow_up(ctx: Ctx) -> None:
    """003, the morning before the experiment chapter."""
    ctx.at(ctx.local(2, "10:00"))
    ctx.story.section(f"Seeds (商家场景) on {ctx.wall()}: 003's staff follow-up after a coupon message")
    reached = {r["customer_id"] for cid in ctx.campaigns.values()
               for r in ctx.pages(f"/v1/campaigns/{cid}/recipients?status=reached")}
    untouched = {c["customer_id"] for c in ctx.sample.customers if c["customer_id"] not in reached}
    _follow_up(ctx, untouched)
    ctx.ids["seeds.untouched"] = ",".join(sorted(untouched))


def daily_coupon(ctx: Ctx) -> None:
    """004, the next three mornings."""
    ctx.at(ctx.local(FIRST_DAY, "10:50"))
    ctx.story.section(f"Seeds (商家场景) on {ctx.wall()}: 004's daily coupon under a campaign-level loosening")
    _daily_coupon(ctx, set(ctx.ids.get("seeds.untouched", "").split(",")))


def _follow_up(ctx: Ctx, untouched: set[str]) -> None:
    """003: a coupon message, then the same day a plain message (suppressed) and the staff's call (created)."""
    story = ctx.story
    owned = ctx.pick(FOLLOWED, lambda c: c["customer_id"] in untouched and bool(c["staff_owner"]))
    extra = ctx.pick(2, lambda c: c["customer_id"] in untouched)
    coupon_msg = ctx.campaign({
        "name": "新客到店券", "description": "003: a coupon message to new customers",
        "target": {"kind": "customers", "customer_ids": owned + extra[:1]},
        "action": {"channel": "inbox", "content_id": ctx.ids["content.coupon"],
                   "coupons": [{"coupon_id": ctx.ids["coupon.threshold"]}]},
        "schedule": {"kind": "once", "at": None}})
    ctx.tick(ctx.now)
    first = ctx.runs(coupon_msg)[0]
    story.line(f"10:00 coupon message {coupon_msg} '新客到店券' to {len(owned)} customers with a staff owner (+1): "
               + progress_text(first))
    ctx.at(ctx.local(2, "10:30"))
    news = ctx.campaign({"name": "当日上新", "target": {"kind": "customers", "customer_ids": owned + extra[1:]},
                         "action": {"channel": "inbox", "content_id": ctx.ids["content.plain"]},
                         "schedule": {"kind": "once", "at": None}})
    ctx.tick(ctx.now)
    plain = ctx.runs(news)[0]
    story.line(f"10:30 a plain message {news} to the same {len(owned)} (+1 other): " + progress_text(plain))
    ctx.at(ctx.local(2, "10:45"))
    call = ctx.campaign({"name": "新客回访", "description": "003: the staff owner calls the new customer",
                         "target": {"kind": "customers", "customer_ids": owned},
                         "action": {"channel": "staff_task", "content_id": ctx.ids["content.plain"]},
                         "schedule": {"kind": "once", "at": None}})
    ctx.tick(ctx.now)
    task_run = ctx.runs(call)[0]
    story.line(f"10:45 staff follow-up {call} '新客回访' for the same {len(owned)}: " + progress_text(task_run))
    tasks = [t for t in ctx.pages("/v1/staff/tasks?status=open") if t["campaign_id"] == call]
    owners = {c: ctx.customer(c)["staff_owner"] for c in owned}
    for t in sorted(tasks, key=lambda t: str(t["customer_id"])):
        story.line(f"  task {t['task_id']}: {t['staff_id']} calls {t['customer_id']} ({t['phone']})")
    story.expect(first["progress"]["succeeded"] == len(owned) + 1,
                 "the coupon message reached every customer")
    story.expect(suppressed([plain], "cap_daily") + suppressed([plain], "cap_cooldown") == len(owned)
                 and plain["progress"]["succeeded"] == 1,
                 "the same day's plain message is suppressed for them by the customer caps (the other one gets it)")
    story.expect(task_run["progress"]["succeeded"] == len(owned) and not task_run["progress"]["suppressed"]
                 and sorted((t["customer_id"], t["staff_id"]) for t in tasks) == sorted(owners.items()),
                 "each staff owner gets the follow-up task: a task is no message to the customer, its caps do not "
                 "apply")


def _daily_coupon(ctx: Ctx, untouched: set[str]) -> None:
    """004: a store coupon every morning to the same customers, loosened within the merchant's ceiling."""
    story = ctx.story
    settings = ctx.get("/v1/settings")
    doc = {k: settings[k] for k in ("store_name", "timezone", "quiet_hours", "guardrails", "rfm", "claim_url",
                                    "unsubscribe_url")}
    doc["guardrails"]["campaign_ceiling"]["weekly_store_coupons_per_customer"] = LOOSER
    put = ctx.api.put("/v1/settings", doc, token=ctx.token, headers={"If-Match": f'"{settings["version"]}"'})
    story.expect(put.status == 200, f"the merchant lets campaigns hand out up to {LOOSER} store coupons a customer "
                 f"a week (settings.guardrails.campaign_ceiling; the shop-wide cap stays "
                 f"{settings['guardrails']['weekly_store_coupons_per_customer']}) ({put.status})")
    coupon = ctx.post("/v1/coupons", BREAKFAST_COUPON)["coupon_id"]
    targets = ctx.pick(DAILY, lambda c: c["customer_id"] in untouched)
    body = {"name": "每日早餐券", "description": "004: a store coupon every morning for three days",
            "target": {"kind": "customers", "customer_ids": targets},
            "action": {"channel": "wallet", "coupons": [{"coupon_id": coupon}]},
            "guardrails": {"weekly_store_coupons_per_customer": LOOSER},
            "schedule": {"kind": "recurring", "frequency": "daily", "time": "11:00",
                         "start_date": _day(ctx, FIRST_DAY),
                         "end_date": _day(ctx, FIRST_DAY + DAYS - 1)}}
    created = ctx.post("/v1/campaigns", body)
    cid = str(created["campaign_id"])
    ctx.campaigns["每日早餐券"] = cid
    activated = ctx.post(f"/v1/campaigns/{cid}/activate")
    story.line(f"daily coupon {cid} '每日早餐券' to {len(targets)} customers at 11:00 for {DAYS} days: "
               f"{activated['status']}, loosened {activated['loosened']}, warnings {activated['warnings']}")
    for day in range(DAYS):
        ctx.tick(ctx.local(FIRST_DAY + day, "11:00"))
    runs = sorted(ctx.runs(cid), key=lambda r: str(r["occurrence"]))
    for run in runs:
        story.line(f"  {run['occurrence']} " + progress_text(run))
    wallets = {c: sum(i["campaign_id"] == cid for i in ctx.get(f"/v1/customers/{c}/coupons?limit=200")["items"])
               for c in targets}
    report = ctx.get(f"/v1/campaigns/{cid}/report")
    story.line(f"  this campaign's coupons in each wallet: {sorted(wallets.values())}; "
               f"report: loosened {report['loosened']}")
    story.expect(len(runs) == DAYS and all(r["progress"]["succeeded"] == len(targets) for r in runs)
                 and set(wallets.values()) == {DAYS},
                 f"the same {len(targets)} customers got the coupon on {DAYS} consecutive days (no "
                 "cap_weekly_store_coupon)")
    story.expect(activated["loosened"] == report["loosened"] == {
        "weekly_store_coupons_per_customer": {"setting": 1, "campaign": LOOSER}} and not activated["warnings"],
        "the loosening is recorded at activation and shown in the report; no feasibility warning")
    other = ctx.campaign({"name": "周末券", "target": {"kind": "customers", "customer_ids": targets[:2]},
                          "action": {"channel": "wallet", "coupons": [{"coupon_id": ctx.ids["coupon.second"]}]},
                          "schedule": {"kind": "once", "at": None}})
    ctx.at(ctx.local(FIRST_DAY + DAYS - 1, "11:30"))
    ctx.tick(ctx.now)
    held = ctx.runs(other)[0]
    story.line(f"another store coupon {other} without the loosening, same week: " + progress_text(held))
    story.expect(suppressed([held], "cap_weekly_store_coupon") == 2,
                 "other campaigns are still held to the shop-wide weekly cap")


def _day(ctx: Ctx, day: int) -> str:
    return ctx.local(day, "11:00").astimezone(ZONE).date().isoformat()
