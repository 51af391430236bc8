"""CSV renderings of recipient details and the coupon issue history (pure)."""

from __future__ import annotations

from collections.abc import Iterable

from chalicelib.core.csvtext import render
from chalicelib.reports.schemas import HistoryRow, RecipientOut

RECIPIENT_COLUMNS = ("customer_id", "status", "reason", "run_id", "at", "coupons", "orders", "amount_fen",
                     "discount_fen", "reversed_orders", "churned", "until")
HISTORY_COLUMNS = ("instance_id", "coupon_id", "coupon_name", "customer_id", "campaign_id", "campaign_name", "run_id",
                   "status", "issued_at", "claimed_at", "valid_until", "redeemed_at", "order_id")


def recipients_csv(rows: Iterable[RecipientOut], timezone: str) -> str:
    return render(RECIPIENT_COLUMNS, ((
        r.customer_id, r.status, r.reason, r.run_id, r.at,
        ";".join(f"{c.instance_id}:{c.status}" for c in r.coupons), r.orders, r.amount_fen, r.discount_fen,
        r.reversed_orders, ";".join(r.churned), r.until) for r in rows), timezone)


def history_csv(rows: Iterable[HistoryRow], timezone: str) -> str:
    return render(HISTORY_COLUMNS, ((
        r.instance_id, r.coupon_id, r.coupon_name, r.customer_id, r.campaign_id, r.campaign_name, r.run_id, r.status,
        r.issued_at, r.claimed_at, r.valid_until, r.redeemed_at, r.order_id) for r in rows), timezone)
