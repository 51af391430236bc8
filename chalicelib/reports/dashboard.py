"""Merchant dashboard (yesterday / 7 d / 30 d in the merchant's zone) and the coupon issue history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.core.clock import Clock
from chalicelib.core.ports import Repo
from chalicelib.reports.model import Counts, CouponFact, DeliveryStatus
from chalicelib.reports.ports import CouponSource, DeliverySource, StatsPort
from chalicelib.reports.schemas import DashboardOut, HistoryRow, TopCampaign
from chalicelib.reports.service import bounds, check_range
from chalicelib.reports.stats import rate

PERIOD_DAYS = {"yesterday": 1, "7d": 7, "30d": 30}
TOP_CAMPAIGNS = 5
HISTORY_PAGE = 500
ACTIVE = ("issued", "claimed")
OPEN_START = datetime(2000, 1, 1, tzinfo=UTC)
OPEN_END = datetime(9999, 1, 1, tzinfo=UTC)


def period_days(period: str, today: date) -> tuple[date, date]:
    """Complete local days before today: yesterday, the last 7 or the last 30."""
    return today - timedelta(days=PERIOD_DAYS[period]), today - timedelta(days=1)


def history_row(f: CouponFact, campaign_name: str | None = None) -> HistoryRow:
    return HistoryRow(instance_id=f.instance_id, coupon_id=f.coupon_id, coupon_name=f.coupon_name,
                      customer_id=f.customer_id, campaign_id=f.campaign_id, campaign_name=campaign_name,
                      run_id=f.run_id, status=f.status, issued_at=f.issued_at, claimed_at=f.claimed_at,
                      valid_until=f.valid_until, redeemed_at=f.redeemed_at, order_id=f.order_id)


def status_matches(fact: CouponFact, status: str | None) -> bool:
    """active = issued or claimed and not expired; expired and redeemed as stored / computed."""
    if status is None:
        return True
    return fact.status in ACTIVE if status == "active" else fact.status == status


class DashboardService:
    """Merchant-wide figures and issue history; the clock and the merchant's zone are injected."""

    def __init__(self, campaigns: Repo, stats: StatsPort, deliveries: DeliverySource, coupons: CouponSource,
                 timezone_of: Callable[[str], str], clock: Clock) -> None:
        self._campaigns = campaigns
        self._stats = stats
        self._deliveries = deliveries
        self._coupons = coupons
        self._tz = timezone_of
        self._clock = clock

    def dashboard(self, merchant_id: str, period: str) -> DashboardOut:
        tz = self._tz(merchant_id)
        today = self._clock().astimezone(ZoneInfo(tz)).date()
        first, last = period_days(period, today)
        start, end = bounds(first, last, tz)
        start, end = start or OPEN_START, end or OPEN_END
        counters = self._stats.by_campaign(merchant_id, first.isoformat(), last.isoformat())
        names: dict[str, str | None] = {}
        reached: dict[str, int] = {}
        sends = 0
        for record in self._campaigns.iter_all(merchant_id):
            names[record.id] = record.data.get("name")
            for d in self._deliveries.deliveries(merchant_id, record.id, start, end):
                if d.status in (DeliveryStatus.REACHED, DeliveryStatus.FAILED):
                    sends += 1
                if d.status is DeliveryStatus.REACHED:
                    reached[record.id] = reached.get(record.id, 0) + 1
        total = sum(counters.values(), Counts())
        issued = self._count_issued(merchant_id, start, end)
        ranked = sorted(set(counters) | set(reached),
                        key=lambda c: (-counters.get(c, Counts()).gmv, -counters.get(c, Counts()).orders,
                                       -reached.get(c, 0), c))
        top = [TopCampaign(campaign_id=c, name=names.get(c), reached=reached.get(c, 0),
                           orders=counters.get(c, Counts()).orders, gmv_fen=counters.get(c, Counts()).gmv)
               for c in ranked[:TOP_CAMPAIGNS]]
        all_reached = sum(reached.values())
        return DashboardOut(period=period, timezone=tz, day_from=first, day_to=last, sends=sends, reached=all_reached,
                            reach_rate=rate(all_reached, sends), coupons_issued=issued,
                            coupons_redeemed=total.coupon_orders, attributed_orders=total.orders,
                            attributed_gmv_fen=total.gmv, discount_fen=total.discount, top_campaigns=top)

    def _count_issued(self, merchant_id: str, start: datetime, end: datetime) -> int:
        count, key = 0, None
        while True:
            facts, key = self._coupons.history(merchant_id, start, end, HISTORY_PAGE, key)
            count += len(facts)
            if not key:
                return count

    def history(self, merchant_id: str, status: str | None, day_from: date | None, day_to: date | None,
                limit: int, start_key: dict[str, Any] | None, campaign_id: str | None = None,
                names: dict[str, str | None] | None = None) -> tuple[list[HistoryRow], dict[str, Any] | None]:
        """One page of issues in the local days, newest first, each with its campaign's name (the status and
        campaign filters may leave a page short: follow the cursor). `names` caches campaign names across pages."""
        check_range(day_from, day_to)
        start, end = bounds(day_from, day_to, self._tz(merchant_id))
        facts, last = self._coupons.history(merchant_id, start or OPEN_START, end or OPEN_END, limit, start_key)
        kept = [f for f in facts if status_matches(f, status) and (campaign_id is None or f.campaign_id == campaign_id)]
        names = {} if names is None else names
        for fact in kept:
            if fact.campaign_id and fact.campaign_id not in names:
                record = self._campaigns.get(merchant_id, fact.campaign_id)  # one read per campaign, not per row
                names[fact.campaign_id] = str(record.data.get("name")) if record else None
        return [history_row(f, names.get(f.campaign_id) if f.campaign_id else None) for f in kept], last

    def history_all(self, merchant_id: str, status: str | None, day_from: date | None, day_to: date | None,
                    campaign_id: str | None = None) -> list[HistoryRow]:
        """Every matching issue (CSV export)."""
        rows: list[HistoryRow] = []
        key: dict[str, Any] | None = None
        names: dict[str, str | None] = {}
        while True:
            page, key = self.history(merchant_id, status, day_from, day_to, HISTORY_PAGE, key, campaign_id, names)
            rows += page
            if not key:
                return rows
