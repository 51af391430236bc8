"""Pure customer metrics: fold orders and events into CustomerActivity and read CustomerFacts as of any instant."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from chalicelib.core.clock import MAX_FUTURE_SKEW
from chalicelib.customers.model import (
    CHANNELS,
    GOOD_REVIEW,
    PURCHASE_STATUSES,
    CountedOrder,
    CustomerActivity,
    CustomerFacts,
    CustomerProfile,
    DayCounts,
    EventFact,
    FollowState,
    OrderFact,
)

DAY = 86_400
# Purchases stay per order (exact windows for any as_of, exact reversal) this long after their payment,
# measured from the activity's watermark; a year and a month covers every refund window in practice.
ORDER_HORIZON_DAYS = 400
# A customer with more than MAX_TRACKED_ORDERS kept purchases has those older than EXACT_ORDER_DAYS
# archived early (the 180-day windows stay exact); 2,500 entries are ~120 KB of the 400 KB item.
EXACT_ORDER_DAYS = 181
MAX_TRACKED_ORDERS = 2_500
# Engagement day buckets kept: the 30-day windows plus a month of slack for a late as_of.
ENGAGEMENT_DAYS = 62
# Applied event ids remembered, newest last: a redelivered stream batch finds its events here.
EVENT_ID_MEMORY = 512

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_EMPTY_DAY = DayCounts()
_DAY_COUNTERS = {
    "visit": "visits",
    "product_view": "product_views",
    "live_interaction": "live_interactions",
    "cart_view": "cart_views",
    "cart_click": "cart_clicks",
    "review": "reviews",
}


def epoch_seconds(instant: datetime) -> int:
    """Whole seconds since the epoch, floored (instants are second precision in this product)."""
    if instant.tzinfo is None:
        raise ValueError("instants must be timezone-aware")
    return (instant - _EPOCH) // _SECOND


def local_day(ts: int, tz: str) -> date:
    """The merchant-local calendar day of an epoch instant."""
    return datetime.fromtimestamp(ts, ZoneInfo(tz)).date()


def order_digest(order_id: str) -> str:
    """The 11-character digest under which an archived purchase is remembered."""
    raw = hashlib.blake2b(order_id.encode(), digest_size=8).digest()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _watermark(activity: CustomerActivity, at: int, now: datetime) -> int:
    """The latest instant applied, never beyond `now` + MAX_FUTURE_SKEW: a record dated ahead of the clock (the edge
    refuses them; older data may hold some) cannot move the pruning horizon and archive or drop real activity."""
    return min(max(activity.watermark, at), epoch_seconds(now + MAX_FUTURE_SKEW))


def apply_order(activity: CustomerActivity, order: OrderFact, tz: str, now: datetime) -> CustomerActivity:
    """Fold the current state of one order in at clock `now`; the same state twice (or a stale replay) changes nothing.

    paid/completed count once (a re-send with a new amount or paid_at replaces the contribution);
    refunded/cancelled remove exactly what was counted and are final, so a later "paid" is ignored.
    """
    oid = order.order_id
    if oid in activity.closed_orders:
        return activity
    at = epoch_seconds(order.paid_at)
    current = activity.orders.get(oid)
    if current is None and activity.archived_ids and order_digest(oid) in activity.archived_ids:
        return activity  # already folded into the archive: neither recounted nor reversible
    watermark = _watermark(activity, at, now)
    if order.status in PURCHASE_STATUSES:
        entry = CountedOrder(at, order.amount_fen)
        if current == entry:
            return activity
        return _prune(replace(activity, orders={**activity.orders, oid: entry}, watermark=watermark), tz)
    orders = {k: v for k, v in activity.orders.items() if k != oid}
    closed = {**activity.closed_orders, oid: at}
    return _prune(replace(activity, orders=orders, closed_orders=closed, watermark=watermark), tz)


def apply_event(activity: CustomerActivity, event: EventFact, tz: str, now: datetime) -> CustomerActivity:
    """Fold one behaviour event in at clock `now`; an event id already applied changes nothing."""
    if event.event_id in activity.event_ids:
        return activity
    at = epoch_seconds(event.at)
    kind = event.type
    watermark = _watermark(activity, at, now)
    last_at = dict(activity.last_at)
    _keep_latest(last_at, kind, at)
    days = activity.days
    day = local_day(at, tz)
    if day >= _oldest_kept_day(watermark, tz):
        counted = _count_day(days.get(day.isoformat(), _EMPTY_DAY), event)
        if counted is not None:
            days = {**days, day.isoformat(): counted}
    follow, fan_level, unsubscribed = activity.follow, activity.fan_level, activity.unsubscribed
    first_visit = activity.first_visit
    if kind == "visit":
        # A visit folded before first visits were kept still precedes later ones: its instant bounds the first.
        known = first_visit or ((activity.last_at["visit"], "") if "visit" in activity.last_at else None)
        first_visit = min(known, (at, event.event_id)) if known else (at, event.event_id)
    if kind == "review" and _is_good_review(event):
        _keep_latest(last_at, GOOD_REVIEW, at)
    elif kind in ("follow", "unfollow"):
        if follow is None or (at, event.event_id) > (follow.at, follow.event_id):
            follow = FollowState(at, event.event_id, kind == "follow")
    elif kind == "fan_level_up" and event.value is not None:
        fan_level = max(fan_level, event.value)
    elif kind == "unsubscribe":
        channel = event.channel or event.content
        unsubscribed = unsubscribed | (frozenset({channel}) if channel else frozenset(CHANNELS))
    updated = replace(
        activity, days=days, last_at=last_at, follow=follow, fan_level=fan_level, unsubscribed=unsubscribed,
        event_ids=(*activity.event_ids, event.event_id)[-EVENT_ID_MEMORY:], watermark=watermark,
        first_visit=first_visit,
    )
    return _prune(updated, tz)


def is_first_visit(activity: CustomerActivity, event: EventFact) -> bool:
    """Whether `event`, once folded into `activity`, is the customer's earliest visit (a replay: still so)."""
    return event.type == "visit" and activity.first_visit == (epoch_seconds(event.at), event.event_id)


def _keep_latest(last_at: dict[str, int], kind: str, at: int) -> None:
    if at > last_at.get(kind, -1 << 62):
        last_at[kind] = at


def _count_day(day: DayCounts, event: EventFact) -> DayCounts | None:
    """The day bucket with this event counted, or None when the event type has no day counter."""
    if event.type == "live_watch":
        seconds = max(0, event.value or 0)
        return day._replace(
            live_watch_seconds=day.live_watch_seconds + seconds,
            live_watch_max_seconds=max(day.live_watch_max_seconds, seconds),
        )
    counter = _DAY_COUNTERS.get(event.type)
    if counter is None:
        return None
    counted = day._replace(**{counter: getattr(day, counter) + 1})
    if event.type == "review" and _is_good_review(event):
        counted = counted._replace(good_reviews=counted.good_reviews + 1)
    return counted


def _is_good_review(event: EventFact) -> bool:
    """A good rating with non-empty content: what "wrote a good review" means."""
    return event.rating == "good" and bool(event.content and event.content.strip())


def _oldest_kept_day(watermark: int, tz: str) -> date:
    return local_day(watermark, tz) - timedelta(days=ENGAGEMENT_DAYS - 1)


def _prune(activity: CustomerActivity, tz: str) -> CustomerActivity:
    """Archive purchases past the order horizon and drop state no window can reach any more."""
    watermark = activity.watermark
    cutoff = watermark - ORDER_HORIZON_DAYS * DAY
    stale = [oid for oid, o in activity.orders.items() if o.at < cutoff]
    if len(activity.orders) - len(stale) > MAX_TRACKED_ORDERS:
        exact_cutoff = watermark - EXACT_ORDER_DAYS * DAY
        stale = [oid for oid, o in activity.orders.items() if o.at < exact_cutoff]
    if stale:
        orders = dict(activity.orders)
        moved = [orders.pop(oid) for oid in stale]
        first, last = min(o.at for o in moved), max(o.at for o in moved)
        activity = replace(
            activity,
            orders=orders,
            archived_orders=activity.archived_orders + len(moved),
            archived_spend_fen=activity.archived_spend_fen + sum(o.amount_fen for o in moved),
            archived_first_at=first if activity.archived_first_at is None else min(first, activity.archived_first_at),
            archived_last_at=last if activity.archived_last_at is None else max(last, activity.archived_last_at),
            archived_ids=activity.archived_ids | {order_digest(oid) for oid in stale},
        )
    if any(at < cutoff for at in activity.closed_orders.values()):
        activity = replace(activity, closed_orders={k: at for k, at in activity.closed_orders.items() if at >= cutoff})
    oldest = _oldest_kept_day(watermark, tz).isoformat()
    if any(day < oldest for day in activity.days):
        activity = replace(activity, days={day: c for day, c in activity.days.items() if day >= oldest})
    return activity


class _Horizon(NamedTuple):
    """What facts_as_of needs about one (tz, as_of): its epoch second, local today and day boundaries."""

    now: int
    today: date
    today_iso: str
    yesterday_iso: str
    day15_iso: str
    day30_iso: str
    yesterday_start: int
    today_start: int


@lru_cache(maxsize=256)
def _horizon(tz: str, as_of: datetime) -> _Horizon:
    zone = ZoneInfo(tz)
    today = as_of.astimezone(zone).date()
    yesterday = today - timedelta(days=1)

    def midnight(day: date) -> int:
        return epoch_seconds(datetime.combine(day, time(0), tzinfo=zone))

    return _Horizon(
        epoch_seconds(as_of), today, today.isoformat(), yesterday.isoformat(),
        (today - timedelta(days=14)).isoformat(), (today - timedelta(days=29)).isoformat(),
        midnight(yesterday), midnight(today),
    )


def _instant(ts: int | None, now: int) -> datetime | None:
    """An activity instant as seen at `now`: later activity is not known yet."""
    return None if ts is None or ts > now else datetime.fromtimestamp(ts, UTC)


def facts_as_of(profile: CustomerProfile, activity: CustomerActivity, tz: str, as_of: datetime) -> CustomerFacts:
    """Evaluate every rule-language value of one customer at `as_of` in the merchant zone `tz`."""
    h = _horizon(tz, as_of)
    now = h.now
    kept = [o for o in activity.orders.values() if o.at <= now]

    def window(days: int) -> tuple[int, int]:
        # t > as_of - N days  <=>  t > floor(as_of) - N days, since t is whole seconds
        amounts = [o.amount_fen for o in kept if o.at > now - days * DAY]
        return len(amounts), sum(amounts)

    (o15, _), (o30, s30), (o90, s90), (o180, s180) = (window(n) for n in (15, 30, 90, 180))
    total, spend = len(kept), sum(o.amount_fen for o in kept)
    first = min((o.at for o in kept), default=None)
    last = max((o.at for o in kept), default=None)
    ordered_yesterday = any(h.yesterday_start <= o.at < h.today_start for o in kept)
    archived_first = activity.archived_first_at
    if archived_first is not None and archived_first <= now:
        total += activity.archived_orders
        spend += activity.archived_spend_fen
        first = archived_first if first is None else min(first, archived_first)
        archived_last = activity.archived_last_at or archived_first
        last = archived_last if last is None else max(last, archived_last)

    in_30d = [(day, c) for day, c in activity.days.items() if h.day30_iso <= day <= h.today_iso]
    sums = DayCounts(*map(sum, zip(*(c for _, c in in_30d), strict=False))) if in_30d else _EMPTY_DAY
    recent = [c for day, c in in_30d if day >= h.day15_iso]
    yesterday = activity.days.get(h.yesterday_iso, _EMPTY_DAY)

    last_at = activity.last_at
    follow = activity.follow
    birthday = profile.birthday
    return CustomerFacts(
        customer_id=profile.customer_id,
        gender=profile.gender,
        age_band=profile.age_band,
        birthday=birthday,
        birthday_md=None if birthday is None else birthday.month * 100 + birthday.day,
        region=profile.region,
        city_tier=profile.city_tier,
        device_brand=profile.device_brand,
        device_os=profile.device_os,
        registered_at=(profile.registered_at.astimezone(UTC) if profile.registered_at
                       else _instant(last_at.get("registration"), now)),
        phone_bound=profile.phone_bound,
        member_level=profile.member_level,
        fan_level=max(profile.fan_level, activity.fan_level),
        is_follower=follow.following if follow is not None and follow.at <= now else profile.is_follower,
        tags=profile.tags,
        staff_owner=profile.staff_owner,
        risk_flagged=profile.risk_flagged,
        reachable_channels=profile.consent.granted() - activity.unsubscribed,
        cards=profile.cards,
        first_order_at=_instant(first, now),
        last_order_at=_instant(last, now),
        orders_total=total,
        spend_total=spend,
        aov=spend // total if total else 0,
        orders_15d=o15,
        orders_30d=o30,
        spend_30d=s30,
        orders_90d=o90,
        spend_90d=s90,
        orders_180d=o180,
        spend_180d=s180,
        aov_180d=s180 // o180 if o180 else 0,
        days_since_last_order=None if last is None else (h.today - local_day(last, tz)).days,
        ordered_yesterday=ordered_yesterday,
        last_visit_at=_instant(last_at.get("visit"), now),
        visited_yesterday=yesterday.visits > 0,
        visits_30d=sums.visits,
        live_watch_seconds_30d=sums.live_watch_seconds,
        live_interactions_30d=sums.live_interactions,
        product_views_30d=sums.product_views,
        cart_views_30d=sums.cart_views,
        cart_clicks_30d=sums.cart_clicks,
        reviews_30d=sums.reviews,
        review_good_30d=sums.good_reviews,
        product_views_15d=sum(c.product_views for c in recent),
        live_watch_max_seconds_15d=max((c.live_watch_max_seconds for c in recent), default=0),
        last_review_at=_instant(last_at.get("review"), now),
        last_good_review_at=_instant(last_at.get(GOOD_REVIEW), now),
        last_service_at=_instant(last_at.get("service_completed"), now),
        last_card_used_at=_instant(last_at.get("card_used"), now),
    )
