"""Chapter: built-in audiences with live counts, the six RFM cells, a custom rule's estimate, a frozen snapshot."""

from __future__ import annotations

from typing import Any

from infra.local.story.base import Ctx

RFM = ("rfm_high_value", "rfm_potential_high_value", "rfm_raise_basket", "rfm_repurchase",
       "rfm_churned_high_value", "rfm_churned_raise_basket")
# Buyers who have not bought in the last three days (the once campaign's audience: large enough for a holdout arm).
WIN_BACK_RULE: dict[str, Any] = {"all": [
    {"field": "orders_total", "op": "gte", "value": 1},
    {"field": "days_since_last_order", "op": "gte", "value": 3},
]}
# A narrower rule with a nested group, to show the estimate's sample.
ESTIMATE_RULE: dict[str, Any] = {"all": [
    {"field": "spend_180d", "op": "gte", "value": 20_000},
    {"any": [{"field": "region", "op": "in", "value": ["上海", "杭州", "南京"]},
             {"field": "is_follower", "op": "eq", "value": True}]},
]}


def chapter(ctx: Ctx) -> None:
    story = ctx.story
    story.section(f"Audiences (人群) at {ctx.wall()}: built-in, RFM, a custom rule, a frozen snapshot")
    fields = ctx.get("/v1/audience-fields")["items"]
    story.line(f"GET /v1/audience-fields: {len(fields)} rule fields, e.g. "
               + ", ".join(f"{f['name']} ({f['type']})" for f in fields[:4]) + " …")
    listed = list(ctx.pages("/v1/audiences?kind=builtin&non_empty=true"))
    story.line(f"GET /v1/audiences?kind=builtin&non_empty=true → {len(listed)} non-empty built-in audiences:")
    for a in listed:
        story.line(f"  {a['audience_id']:<34} {a['count']:>6}  {a.get('name_en') or ''} · {a['name']}")
    by_id = {a["audience_id"]: a for a in listed}
    story.expect(len(listed) >= 10, f"at least 10 built-in audiences have members (got {len(listed)})")
    rfm = {cell: (by_id[cell]["count"] if cell in by_id else 0) for cell in RFM}
    story.line("RFM (recent ≤ 30 d · F high ≥ 2 purchases in 180 d · M high ≥ median AOV): "
               + ", ".join(f"{cell.removeprefix('rfm_')} {n}" for cell, n in rfm.items()))
    story.expect(sum(1 for n in rfm.values() if n) >= 4, "at least four of the six RFM cells are non-empty")

    estimate = ctx.post("/v1/audiences/estimate", {"rule": ESTIMATE_RULE})
    story.line("POST /v1/audiences/estimate  spend_180d ≥ ¥200 AND (region in 上海/杭州/南京 OR follower)")
    story.line(f"  → count {estimate['count']}, sample {', '.join(estimate['sample'][:8])}"
               f"{' …' if len(estimate['sample']) > 8 else ''} (as of {estimate['as_of']})")
    story.expect(estimate["count"] > 0 and len(estimate["sample"]) == min(20, estimate["count"]),
                 "the estimate counts members and samples up to 20 of them")

    saved = ctx.post("/v1/audiences", {"kind": "custom", "name": "老客·三天未购",
                                       "description": "bought before, not within the last 3 days",
                                       "rule": WIN_BACK_RULE})
    ctx.ids["audience.win_back"] = saved["audience_id"]
    count = ctx.get(f"/v1/audiences/{saved['audience_id']}")["count"]
    story.line(f"custom audience {saved['audience_id']} '{saved['name']}' (orders_total ≥ 1 AND "
               f"days_since_last_order ≥ 3): {count} members now (dynamic: re-evaluated at each send)")
    story.expect((count or 0) > 0, "the custom audience has members")

    frozen = ctx.post("/v1/audiences", {"kind": "frozen", "name": "高价值快照",
                                        "source_audience_id": "rfm_high_value"})
    members = list(ctx.pages(f"/v1/audiences/{frozen['audience_id']}/members", limit=200))
    story.line(f"frozen snapshot {frozen['audience_id']} of rfm_high_value at {frozen['frozen_at']}: "
               f"{frozen['count']} members, {len(members)} listed through /members")
    story.expect(frozen["count"] == rfm["rfm_high_value"] == len(members),
                 "the snapshot holds exactly the high-value customers of the moment")
