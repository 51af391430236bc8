"""Routes: campaign report, recipients, merchant dashboard and coupon issue history (CSV / S3 exports)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.core.auth import READERS
from chalicelib.core.csvtext import CONTENT_TYPE
from chalicelib.core.errors import Invalid
from chalicelib.core.http import Reply, Request, route
from chalicelib.core.paging import decode_cursor, encode_cursor
from chalicelib.reports.csvout import history_csv, recipients_csv
from chalicelib.reports.schemas import (
    DashboardOut,
    DashboardQuery,
    HistoryPage,
    HistoryQuery,
    RecipientPage,
    RecipientsQuery,
    ReportOut,
    ReportQuery,
)

bp = Blueprint(__name__)
TAG = "reports"
EXPORT_THRESHOLD = 5_000  # rows above which a CSV goes to S3 and the answer is a presigned URL


def _csv(merchant_id: str, name: str, text: str, rows: int) -> Reply:
    if rows > EXPORT_THRESHOLD:
        return Reply(wiring.report_exporter().put_csv(merchant_id, name, text, rows))
    return Reply(text, content_type=CONTENT_TYPE, headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


def _timezone(merchant_id: str) -> str:
    """The zone an export shows its times in: read now, so a zone just changed in settings applies at once."""
    return wiring.tenancy_service().settings(merchant_id)[0].timezone


def _recipient_cursor(merchant_id: str, campaign_id: str, cursor: str | None) -> str | None:
    key = decode_cursor(cursor, merchant_id, store_key=False)
    if key is None:
        return None
    if key.get("pk") != f"{merchant_id}#RCPT#{campaign_id}" or not isinstance(key.get("after"), str):
        raise Invalid("cursor is not one this API issued", field="query.cursor")
    after: str = key["after"]
    return after


@route(bp, "/v1/campaigns/{campaign_id}/report", "GET", summary="Funnel, reasons, revenue, coupons, churn, lift, "
       "daily series", tag=TAG, roles=READERS, query=ReportQuery, response=ReportOut)
def campaign_report(req: Request, campaign_id: str) -> ReportOut:
    q: ReportQuery = req.query
    out: ReportOut = wiring.report_service().report(req.principal.merchant_id, campaign_id, q.from_, q.to)
    return out


@route(bp, "/v1/campaigns/{campaign_id}/recipients", "GET", summary="Per-customer reach, coupons and attributed "
       "orders (?format=csv exports all)", tag=TAG, roles=READERS, query=RecipientsQuery, response=RecipientPage,
       csv=True)
def campaign_recipients(req: Request, campaign_id: str) -> Any:
    q: RecipientsQuery = req.query
    merchant = req.principal.merchant_id
    service = wiring.report_service()
    if q.format == "csv":
        rows, _ = service.recipients(merchant, campaign_id, q.status, None, None)
        return _csv(merchant, f"recipients-{campaign_id}", recipients_csv(rows, _timezone(merchant)), len(rows))
    after = _recipient_cursor(merchant, campaign_id, q.cursor)
    rows, last = service.recipients(merchant, campaign_id, q.status, after, q.limit)
    cursor = encode_cursor({"pk": f"{merchant}#RCPT#{campaign_id}", "after": last}) if last else None
    return RecipientPage(items=rows, next_cursor=cursor)


@route(bp, "/v1/dashboard", "GET", summary="Merchant figures for yesterday / the last 7 / 30 local days", tag=TAG,
       roles=READERS, query=DashboardQuery, response=DashboardOut)
def dashboard(req: Request) -> DashboardOut:
    q: DashboardQuery = req.query
    out: DashboardOut = wiring.dashboard_service().dashboard(req.principal.merchant_id, q.period)
    return out


@route(bp, "/v1/history", "GET", summary="Coupon issue history with each coupon's campaign "
       "(?status=active|expired|redeemed, ?campaign_id, ?from, ?to, ?format=csv)",
       tag=TAG, roles=READERS, query=HistoryQuery, response=HistoryPage, csv=True)
def history(req: Request) -> Any:
    q: HistoryQuery = req.query
    merchant = req.principal.merchant_id
    service = wiring.dashboard_service()
    if q.format == "csv":
        rows = service.history_all(merchant, q.status, q.from_, q.to, q.campaign_id)
        return _csv(merchant, "coupon-history", history_csv(rows, _timezone(merchant)), len(rows))
    items, last = service.history(merchant, q.status, q.from_, q.to, q.limit, decode_cursor(q.cursor, merchant),
                                  q.campaign_id)
    return HistoryPage(items=items, next_cursor=encode_cursor(last))
