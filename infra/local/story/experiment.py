"""Chapter: an A/B coupon test (seed 000's 测试不同商品或券) — 满100减10 against 满100减20 with a 10 % holdout,
simulated orders, then the per-treatment table and the verdict of the campaign report."""

from __future__ import annotations

import unicodedata
from typing import Any

from infra.local.story.base import Ctx
from infra.local.story.reports import _order, _recipients

ARMS = (("满100减10", 1000, 10), ("满100减20", 2000, 18))  # name, discount (fen), simulated buyers in 100
HOLDOUT_BUYERS = 4  # in 100 held-out customers
AMOUNT = 12_800


def _coupon(ctx: Ctx, name: str, discount: int) -> str:
    body = {"name": name, "kind": "store_threshold", "threshold_fen": 10_000, "discount_fen": discount,
            "validity": {"kind": "relative", "days": 14}, "claim_window": {"kind": "any_time"}, "stock": 100_000}
    return str(ctx.post("/v1/coupons", body)["coupon_id"])


def _pad(text: str, width: int) -> str:
    """Left-justified to `width` columns, a CJK character taking two (the table lines up in a terminal)."""
    return text + " " * max(0, width - sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text))


def _yuan(fen: float | None) -> str:
    return "-" if fen is None else f"¥{fen / 100:,.2f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _ci(ci: dict[str, float] | None, scale: float, unit: str) -> str:
    return "" if ci is None else f" [{ci['low'] * scale:.1f}…{ci['high'] * scale:.1f}{unit}]"


def _lift(figure: dict[str, Any] | None, scale: float, unit: str) -> str:
    if not figure or figure.get("difference") is None:
        return "-"
    text = f"{figure['difference'] * scale:+.1f}{unit}"
    if figure.get("ci_low") is not None:
        text += f" [{figure['ci_low'] * scale:+.1f}…{figure['ci_high'] * scale:+.1f}]"
    return text + (" *" if figure.get("significant") else "")


def render_experiment(exp: dict[str, Any]) -> list[str]:
    """The report's experiment section as text lines: one row per treatment and the holdout, then the verdict."""
    lines = [f"{'arm':<12}{'share':>6}{'reached':>8}{'paid':>6}{'orders':>7}{'GMV':>12}{'discount':>11}"
             f"{'coupons i/c/r':>15}  {'conversion [95% CI]':<24}{'net / recipient [95% CI]':<30}"
             f"{'net lift vs holdout':<26}"]
    for row in exp["arms"]:
        c = row["coupons"]
        issued = f"{c['issued']}/{c['claimed']}/{c['redeemed']}"
        share = "-" if row["share_percent"] is None else f"{row['share_percent']}%"
        lines.append(
            f"{_pad(row['name'], 12)}{share:>6}{row['recipients']:>8}{row['paid']:>6}{row['orders']:>7}"
            f"{_yuan(row['gmv_fen']):>12}{_yuan(row['discount_fen']):>11}"
            f"{issued:>15}  "
            f"{_pct(row['conversion_rate']) + _ci(row['conversion_ci'], 100, '%'):<24}"
            f"{_yuan(row['net_revenue_per_recipient_fen']) + _ci(row['net_revenue_ci'], 0.01, ''):<30}"
            f"{_lift(row['vs_holdout'].get('net_revenue_per_recipient'), 0.01, ' yuan'):<26}")
    v = exp["verdict"]
    metric = v["metric"].replace("_", " ")
    if v["status"] == "decided":
        lead = v["lead"] or {}
        lines.append(f"verdict: {v['winner']} wins on {metric} — leads {v['runner_up']} by "
                     f"{_lift(lead, 0.01 if 'revenue' in v['metric'] else 100, '')} "
                     f"({v['per_comparison_confidence'] * 100:.1f}% interval; {v['reason']})")
    else:
        more = ", ".join(f"{k} {'?' if n is None else n}" for k, n in v["more_recipients_needed"].items())
        lines.append(f"verdict: not yet decided on {metric} — {v['reason']}; more recipients needed: {more}")
    return lines


def chapter(ctx: Ctx) -> None:
    story = ctx.story
    ctx.at(ctx.local(2, "11:00"))
    story.section(f"Experiment (A/B 券测试) on {ctx.wall()}: 满100减10 vs 满100减20, 10 % held out")
    touched = {r["customer_id"] for cid in ctx.campaigns.values() for r in _recipients(ctx, cid, "reached")}
    ids = sorted(c["customer_id"] for c in ctx.sample.customers if c["customer_id"] not in touched)
    coupons = {name: _coupon(ctx, name, discount) for name, discount, _ in ARMS}
    if len(ids) < 40:  # a small sample: everyone (guardrails then suppress whom other campaigns just reached)
        ids = sorted(c["customer_id"] for c in ctx.sample.customers)
    body = {"name": "满减力度测试", "label": "增购", "description": "which coupon earns more, net of discount",
            "target": {"kind": "customers", "customer_ids": ids}, "schedule": {"kind": "once", "at": None},
            "holdout_percent": 10, "attribution_window_days": 7,
            "treatments": [{"name": name, "share_percent": 50,
                            "action": {"channel": "wallet", "coupons": [{"coupon_id": coupons[name]}]}}
                           for name, _, _ in ARMS],
            "experiment": {"metric": "net_revenue_per_recipient"}}
    cid = ctx.campaign(body)
    story.line(f"campaign {cid} '满减力度测试': {len(ids)} customers (those no other campaign reached this week), two "
               "treatments of 50 % each (assigned by campaign and customer, independently of the holdout), "
               "verdict on net revenue per recipient")
    ctx.tick(ctx.now)
    reached = _recipients(ctx, cid, "reached")
    held = _recipients(ctx, cid, "held_out")
    arm_of = {coupons[name]: name for name, _, _ in ARMS}
    by_arm: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in ARMS}
    for r in reached:
        got = {c["coupon_id"] for c in r["coupons"]}
        for coupon_id in got:
            by_arm[arm_of[coupon_id]].append(r)
    story.expect(all(len({c["coupon_id"] for c in r["coupons"]}) == 1 for r in reached),
                 "every reached customer holds exactly one of the two coupons, its treatment's")
    ctx.at(ctx.local(2, "15:00"))
    orders: list[dict[str, Any]] = []
    expected: dict[str, int] = {}
    for name, discount, per_100 in ARMS:
        buyers = [r for n, r in enumerate(by_arm[name]) if n * per_100 // 100 != (n + 1) * per_100 // 100]
        expected[name] = len(buyers)
        for r in buyers:
            coupon = next(c["instance_id"] for c in r["coupons"])
            orders.append(_order(ctx, "ab", r["customer_id"], AMOUNT - discount, coupon, discount))
    control = [r for n, r in enumerate(held) if n * HOLDOUT_BUYERS // 100 != (n + 1) * HOLDOUT_BUYERS // 100]
    orders += [_order(ctx, "ab", r["customer_id"], AMOUNT) for r in control]
    for start in range(0, len(orders), 500):
        ctx.post("/v1/orders/batch", {"items": orders[start:start + 500]})
    ctx.runtime.drain()
    story.line(f"simulated buyers: {', '.join(f'{expected[n]} of {len(by_arm[n])} {n}' for n, _, _ in ARMS)} "
               f"(each redeeming its coupon on a ¥{AMOUNT / 100:.0f} basket), {len(control)} of {len(held)} held out")
    report = ctx.get(f"/v1/campaigns/{cid}/report")
    exp = report["experiment"]
    story.line("")
    for line in render_experiment(exp):
        story.line(line)
    story.line("")
    rows = {row["name"]: row for row in exp["arms"]}
    story.expect(all(rows[n]["paid"] == expected[n] and rows[n]["coupons"]["redeemed"] == expected[n]
                     and rows[n]["recipients"] == len(by_arm[n]) for n, _, _ in ARMS),
                 "each treatment is credited its own buyers, their redeemed coupons and nothing of the other's")
    story.expect(rows["holdout"]["paid"] == len(control) and rows["holdout"]["recipients"] == len(held),
                 "the holdout row holds the held-out customers and their orders")
    story.expect(sum(rows[n]["gmv_fen"] for n, _, _ in ARMS) == report["revenue"]["gmv_fen"],
                 "the treatments' GMV adds up to the campaign's")
    v = exp["verdict"]
    small = [n for n, _, _ in ARMS if rows[n]["recipients"] < v["min_per_arm"]]
    story.expect(v["status"] == "not_yet_decided" if small else v["status"] in ("decided", "not_yet_decided"),
                 f"no verdict from treatments under {v['min_per_arm']} reached recipients "
                 f"({'none' if not small else ', '.join(small)} below it); the verdict is {v['status']}")
