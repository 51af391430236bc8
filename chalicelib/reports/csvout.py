"""CSV renderings of recipient details and the coupon issue history (pure)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime

from chalicelib.core.clock import to_iso
from chalicelib.reports.schemas import HistoryRow, RecipientOut

RECIPIENT_COLUMNS = ("customer_id", "status", "reason", "run_id", "at", "coupons", "orders", "amount_fen",
                     "discount_fen", "reversed_orders", "churned")
HISTORY_COLUMNS = ("instance_id", "coupon_id", "coupon_name", "customer_id", "campaign_id", "run_id", "status",
                   "issued_at", "claimed_at", "valid_until", "redeemed_at", "order_id")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """One cell: instants as ISO UTC, None empty, text that a spreadsheet would run as a formula quoted."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return to_iso(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) and not _number(text) else text


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def render(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(v) for v in row])
    return out.getvalue()


def recipients_csv(rows: Iterable[RecipientOut]) -> str:
    return render(RECIPIENT_COLUMNS, ((
        r.customer_id, r.status, r.reason, r.run_id, r.at,
        ";".join(f"{c.instance_id}:{c.status}" for c in r.coupons), r.orders, r.amount_fen, r.discount_fen,
        r.reversed_orders, ";".join(r.churned)) for r in rows))


def history_csv(rows: Iterable[HistoryRow]) -> str:
    return render(HISTORY_COLUMNS, ((
        r.instance_id, r.coupon_id, r.coupon_name, r.customer_id, r.campaign_id, r.run_id, r.status, r.issued_at,
        r.claimed_at, r.valid_until, r.redeemed_at, r.order_id) for r in rows))
