"""The report's text table (what `make demo` prints): funnel, lift with its interval, daily series."""

from __future__ import annotations

from typing import Any

from chalicelib.reports.table import render_report


def report(**lift: Any) -> dict[str, Any]:
    return {
        "campaign_id": "cmp1", "name": "Spring",
        "funnel": {"targeted": 100, "held_out": 50, "reached": 50, "ordered": 12, "paid": 10},
        "rates": {"conversion_rate": 0.2, "control_conversion_rate": 0.1},
        "revenue": {"orders": 11, "gmv_fen": 123456, "discount_fen": 1000, "coupon_orders": 3},
        "coupons": {"issued": 50, "claimed": 50, "redeemed": 3, "expired": 0, "claimers": 50},
        "churn": {"unsubscribed": 1, "unfollowed": 0, "rate": 0.02},
        "reasons": {"failed": {}, "suppressed": {"no_consent": 2}, "not_sent": {}},
        "lift": {"status": "ok", "reason": None, "treated_conversions": 10, "treated_n": 50, "control_conversions": 5,
                 "control_n": 50, "difference": 0.1, "ci_low": -0.03, "ci_high": 0.23, "significant": False, **lift},
        "series": [{"day": "2026-11-22", "reached": 50, "orders": 11, "gmv_fen": 123456, "control_orders": 5,
                    "churn": 1}, {"day": "2026-11-23", "reached": 0, "orders": 0, "gmv_fen": 0,
                                  "control_orders": 0, "churn": 0}],
    }


def test_report_table_shows_lift_interval_and_skips_empty_days() -> None:
    text = render_report(report())
    assert "targeted 100 → reached 50 → ordered 12 → paid 10  (held out 50)" in text
    assert "treated 10/50 vs control 5/50: +10.0 pp (95% CI -3.0 … +23.0 pp) not significant" in text
    assert "GMV ¥1,234.56" in text and "no_consent 2" in text
    assert "2026-11-22" in text and "2026-11-23" not in text


def test_report_table_labels_an_insufficient_sample() -> None:
    text = render_report(report(status="insufficient", reason="fewer than 30 customers in an arm"))
    assert "+10.0 pp, insufficient sample (fewer than 30 customers in an arm)" in text
