"""A campaign report (the JSON of GET /v1/campaigns/{id}/report) as a readable text table (pure; for the demo)."""

from __future__ import annotations

from typing import Any


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _yuan(fen: int) -> str:
    return f"¥{fen / 100:,.2f}"


def render_report(report: dict[str, Any]) -> str:
    """Funnel, reasons, revenue, coupons, churn, lift with its interval, and the daily series."""
    f, r, c, ch, lift = (report["funnel"], report["revenue"], report["coupons"], report["churn"], report["lift"])
    rows = [
        ("campaign", f"{report.get('name') or ''} ({report['campaign_id']})"),
        ("funnel", f"targeted {f['targeted']} → reached {f['reached']} → ordered {f['ordered']} → paid {f['paid']}"
                   f"  (held out {f['held_out']})"),
        ("conversion", f"{_pct(report['rates']['conversion_rate'])} of reached; "
                       f"control {_pct(report['rates']['control_conversion_rate'])}"),
        ("revenue", f"{r['orders']} orders, GMV {_yuan(r['gmv_fen'])}, discount {_yuan(r['discount_fen'])}, "
                    f"{r['coupon_orders']} with the campaign's coupon"),
        ("coupons", f"issued {c['issued']}, claimed {c['claimed']}, redeemed {c['redeemed']}, "
                    f"expired {c['expired']}, claimers {c['claimers']}"),
        ("reach churn", f"unsubscribed {ch['unsubscribed']}, unfollowed {ch['unfollowed']} ({_pct(ch['rate'])})"),
    ]
    for name, cap in (report.get("loosened") or {}).items():
        rows.append(("loosened", f"{name} {cap['setting']} → {cap['campaign']} (within the merchant's ceiling)"))
    for kind in ("failed", "suppressed", "deferred", "not_sent"):
        reasons = report["reasons"].get(kind)
        if reasons:
            rows.append((kind.replace("_", " "), ", ".join(f"{k} {v}" for k, v in reasons.items())))
    if lift["status"] == "ok":
        text = (f"{lift['difference'] * 100:+.1f} pp (95% CI {lift['ci_low'] * 100:+.1f} … {lift['ci_high'] * 100:+.1f}"
                f" pp){' significant' if lift['significant'] else ' not significant'}")
    elif lift["status"] == "insufficient":
        diff = "" if lift["difference"] is None else f"{lift['difference'] * 100:+.1f} pp, "
        text = f"{diff}insufficient sample ({lift['reason']})"
    else:
        text = "no holdout"
    rows.append(("lift", f"treated {lift['treated_conversions']}/{lift['treated_n']} vs control "
                         f"{lift['control_conversions']}/{lift['control_n']}: {text}"))
    width = max(len(k) for k, _ in rows)
    lines = [f"  {k:<{width}}  {v}" for k, v in rows]
    series = [p for p in report["series"] if p["reached"] or p["orders"] or p["control_orders"] or p["churn"]]
    if series:
        lines.append(f"  {'day':<10}  {'reached':>7}  {'orders':>6}  {'GMV':>12}  {'control':>7}  {'churn':>5}")
        lines += [f"  {p['day']:<10}  {p['reached']:>7}  {p['orders']:>6}  {_yuan(p['gmv_fen']):>12}  "
                  f"{p['control_orders']:>7}  {p['churn']:>5}" for p in series]
    return "\n".join(lines)
