"""Campaign report and per-recipient details, composed from the stats counters, dispatch and coupons ports."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from chalicelib.core.clock import Clock
from chalicelib.core.errors import Invalid, NotFound
from chalicelib.core.ports import Repo
from chalicelib.core.records import Record
from chalicelib.reports import stats as lift_stats
from chalicelib.reports.attribution import local_day
from chalicelib.reports.experiment import experiment
from chalicelib.reports.model import STATUS_RANK, Arm, Attribution, Counts, CouponFact, Delivery, DeliveryStatus
from chalicelib.reports.ports import CouponSource, DeliverySource, StatsPort
from chalicelib.reports.recipients import RecipientPages
from chalicelib.reports.schemas import (
    Churn,
    CouponFigures,
    DayPoint,
    Funnel,
    LiftOut,
    Rates,
    Reasons,
    RecipientOut,
    ReportOut,
    Revenue,
)

MAX_SPAN_DAYS = 366
CLAIMED = ("claimed", "redeemed")


def check_range(day_from: date | None, day_to: date | None) -> None:
    """`from` ≤ `to`, at most a year apart (400 naming the parameter otherwise)."""
    if day_from and day_to and day_from > day_to:
        raise Invalid("from must not be after to", field="query.from")
    if day_from and day_to and (day_to - day_from).days >= MAX_SPAN_DAYS:
        raise Invalid(f"at most {MAX_SPAN_DAYS} days from from to to", field="query.to")


def local_midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def bounds(day_from: date | None, day_to: date | None, tz: str) -> tuple[datetime | None, datetime | None]:
    """[00:00 local of from, 00:00 local of the day after to) as UTC instants (None: open)."""
    return (local_midnight(day_from, tz) if day_from else None,
            local_midnight(day_to + timedelta(days=1), tz) if day_to else None)


def fold(deliveries: Iterable[Delivery]) -> dict[str, Delivery]:
    """Each customer's best delivery across the campaign's runs (reached beats failed beats not sent ...)."""
    best: dict[str, Delivery] = {}
    for d in deliveries:
        cur = best.get(d.customer_id)
        if cur is None or (STATUS_RANK[d.status], d.at or datetime.min.replace(tzinfo=UTC)) > (
                STATUS_RANK[cur.status], cur.at or datetime.min.replace(tzinfo=UTC)):
            coupons = tuple(dict.fromkeys((*(cur.coupon_instance_ids if cur else ()), *d.coupon_instance_ids)))
            best[d.customer_id] = replace(d, coupon_instance_ids=coupons)
        elif d.coupon_instance_ids:
            coupons = tuple(dict.fromkeys((*cur.coupon_instance_ids, *d.coupon_instance_ids)))
            best[d.customer_id] = replace(cur, coupon_instance_ids=coupons)
    return best


def _in_days(attrs: Iterable[Attribution], day_from: date | None, day_to: date | None) -> list[Attribution]:
    low, high = (day_from.isoformat() if day_from else ""), (day_to.isoformat() if day_to else "9999")
    return [a for a in attrs if low <= a.day <= high]


def _reasons(folded: Iterable[Delivery], status: DeliveryStatus) -> dict[str, int]:
    return dict(sorted(Counter(d.reason or "unknown" for d in folded if d.status is status).items()))


def coupon_figures(facts: Iterable[CouponFact]) -> CouponFigures:
    rows = list(facts)
    claimed = [f for f in rows if f.status in CLAIMED or f.claimed_at is not None]
    return CouponFigures(issued=len(rows), claimed=len(claimed), redeemed=sum(f.status == "redeemed" for f in rows),
                         expired=sum(f.status == "expired" for f in rows),
                         claimers=len({f.customer_id for f in claimed}))


class ReportService:
    """Read side of effect tracking; the clock and the merchant's zone are injected."""

    def __init__(self, campaigns: Repo, stats: StatsPort, deliveries: DeliverySource, coupons: CouponSource,
                 timezone_of: Callable[[str], str], clock: Clock, recipients: RecipientPages) -> None:
        self._recipients = recipients
        self._campaigns = campaigns
        self._stats = stats
        self._deliveries = deliveries
        self._coupons = coupons
        self._tz = timezone_of
        self._clock = clock

    def campaign(self, merchant_id: str, campaign_id: str) -> Record:
        record = self._campaigns.get(merchant_id, campaign_id)
        if record is None:
            raise NotFound(f"no campaign {campaign_id}", field="path.campaign_id")
        return record

    def report(self, merchant_id: str, campaign_id: str, day_from: date | None, day_to: date | None) -> ReportOut:
        check_range(day_from, day_to)
        record = self.campaign(merchant_id, campaign_id)
        tz = self._tz(merchant_id)
        start, end = bounds(day_from, day_to, tz)
        deliveries = self._deliveries.deliveries(merchant_id, campaign_id, start, end)
        folded = fold(deliveries)
        reached = {c for c, d in folded.items() if d.status is DeliveryStatus.REACHED}
        held = {c for c, d in folded.items() if d.status is DeliveryStatus.HELD_OUT}
        attrs = _in_days(self._stats.attributions(merchant_id, campaign_id), day_from, day_to)
        treated = [a for a in attrs if a.arm is Arm.TREATED]
        ordered = {a.customer_id for a in treated}
        paid = {a.customer_id for a in treated if a.counted}
        control_paid = {a.customer_id for a in attrs if a.arm is Arm.CONTROL and a.counted}
        daily = self._stats.daily(merchant_id, campaign_id, _iso(day_from), _iso(day_to))
        total = sum(daily.values(), Counts())
        ids = {i for d in deliveries for i in d.coupon_instance_ids}
        facts = self._coupons.instances(merchant_id, ids)
        coupons = coupon_figures(facts.values())
        churned = total.unsubscribes + total.unfollows
        lift = lift_stats.lift(len(reached), len(paid & reached), len(held), len(control_paid & held))
        return ReportOut(
            campaign_id=campaign_id, name=record.data.get("name"), timezone=tz, day_from=day_from, day_to=day_to,
            generated_at=self._clock(),
            funnel=Funnel(targeted=len(folded), held_out=len(held), reached=len(reached), ordered=len(ordered),
                          paid=len(paid)),
            reasons=Reasons(failed=_reasons(folded.values(), DeliveryStatus.FAILED),
                            suppressed=_reasons(folded.values(), DeliveryStatus.SUPPRESSED),
                            deferred=_reasons(folded.values(), DeliveryStatus.DEFERRED),
                            not_sent=_reasons(folded.values(), DeliveryStatus.NOT_SENT),
                            deferred_until=min((d.until for d in folded.values() if d.until), default=None)),
            revenue=Revenue(orders=total.orders, gmv_fen=total.gmv, discount_fen=total.discount,
                            coupon_orders=total.coupon_orders, control_orders=total.ctl_orders,
                            control_gmv_fen=total.ctl_gmv),
            coupons=coupons,
            churn=Churn(unsubscribed=total.unsubscribes, unfollowed=total.unfollows, total=churned,
                        rate=lift_stats.rate(churned, len(reached))),
            rates=Rates(reach_rate=lift_stats.rate(len(reached), len(folded) - len(held)),
                        order_rate=lift_stats.rate(len(ordered), len(reached)),
                        conversion_rate=lift_stats.rate(len(paid), len(reached)),
                        paid_of_ordered=lift_stats.rate(len(paid), len(ordered)),
                        control_conversion_rate=lift_stats.rate(len(control_paid & held), len(held))),
            lift=LiftOut(**vars(lift), min_per_arm=lift_stats.MIN_ARM,
                         min_conversions_per_arm=lift_stats.MIN_CONVERSIONS),
            series=self._series(deliveries, daily, day_from, day_to, tz),
            experiment=experiment(record.data, deliveries, attrs, facts, fold),
            loosened=record.data.get("loosened") or {})

    def _series(self, deliveries: list[Delivery], daily: dict[str, Counts], day_from: date | None,
                day_to: date | None, tz: str) -> list[DayPoint]:
        reached = Counter(local_day(d.at, tz) for d in deliveries if d.status is DeliveryStatus.REACHED and d.at)
        days = sorted(set(reached) | set(daily))
        if not days and (day_from is None or day_to is None):
            return []
        first = day_from or date.fromisoformat(days[0])
        last = day_to or date.fromisoformat(days[-1])
        first = max(first, last - timedelta(days=MAX_SPAN_DAYS - 1))
        out = []
        for n in range((last - first).days + 1):
            day = (first + timedelta(days=n)).isoformat()
            c = daily.get(day, Counts())
            out.append(DayPoint(day=date.fromisoformat(day), reached=reached.get(day, 0), orders=c.orders,
                                gmv_fen=c.gmv, discount_fen=c.discount, control_orders=c.ctl_orders,
                                churn=c.unsubscribes + c.unfollows))
        return out

    def recipients(self, merchant_id: str, campaign_id: str, status: str | None, after: str | None,
                   limit: int | None) -> tuple[list[RecipientOut], str | None]:
        """One delivery a row from the campaign's recipient index (O(limit) items a page), or its converted
        customers; the position after the page when more follow."""
        self.campaign(merchant_id, campaign_id)
        return self._recipients.page(merchant_id, campaign_id, status, after, limit)


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
