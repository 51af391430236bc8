"""Customer domain: profile and cards, order/event facts, the stream-kept activity state and as-of facts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, NamedTuple

CardKind = Literal["stored_value", "times"]
CARD_KINDS: tuple[CardKind, ...] = ("stored_value", "times")
Channel = Literal["wallet", "inbox", "sms", "email", "webhook", "staff_task"]
CHANNELS: tuple[Channel, ...] = ("wallet", "inbox", "sms", "email", "webhook", "staff_task")
GENDERS: tuple[str, ...] = ("male", "female", "unknown")
OrderStatus = Literal["paid", "completed", "refunded", "cancelled"]
ORDER_STATUSES: tuple[OrderStatus, ...] = ("paid", "completed", "refunded", "cancelled")
# Only these statuses make an order a purchase; refunded/cancelled never count, not even as a first payment.
PURCHASE_STATUSES: frozenset[str] = frozenset({"paid", "completed"})
EventType = Literal[
    "visit", "product_view", "live_watch", "live_interaction", "cart_view", "cart_click", "review", "follow",
    "unfollow", "service_completed", "card_used", "order_cancelled", "order_timed_out", "fan_level_up",
    "unsubscribe", "registration", "birthday",
]
EVENT_TYPES: tuple[EventType, ...] = (
    "visit", "product_view", "live_watch", "live_interaction", "cart_view", "cart_click", "review", "follow",
    "unfollow", "service_completed", "card_used", "order_cancelled", "order_timed_out", "fan_level_up",
    "unsubscribe", "registration", "birthday",
)
Rating = Literal["good", "neutral", "bad"]
# Pseudo event type under which CustomerActivity.last_at keeps the latest good review with content.
GOOD_REVIEW = "review_good"


@dataclass(frozen=True, slots=True)
class Card:
    """One card/asset: the balance means something on stored-value cards, the count on times cards."""

    card_id: str
    kind: CardKind
    balance_fen: int = 0
    remaining_count: int = 0
    expires_on: date | None = None


@dataclass(frozen=True, slots=True)
class Consent:
    """Per-channel marketing consent as the merchant imported it (unsubscribe events override it)."""

    wallet: bool = True
    inbox: bool = True
    sms: bool = False
    email: bool = False
    webhook: bool = True
    staff_task: bool = True

    def granted(self) -> frozenset[str]:
        """The channels consented to."""
        return frozenset(ch for ch in CHANNELS if getattr(self, ch))


@dataclass(frozen=True, slots=True)
class CustomerProfile:
    """What the merchant upserts about a customer."""

    customer_id: str
    nickname: str | None = None
    phone: str | None = None
    gender: str | None = None
    birthday: date | None = None
    age_band: str | None = None
    device_brand: str | None = None
    device_os: str | None = None
    region: str | None = None
    city_tier: int | None = None
    registered_at: datetime | None = None
    phone_bound: bool = False
    member_level: int = 0
    fan_level: int = 0
    is_follower: bool = False
    tags: frozenset[str] = frozenset()
    staff_owner: str | None = None
    risk_flagged: bool = False
    consent: Consent = Consent()
    cards: tuple[Card, ...] = ()


@dataclass(frozen=True, slots=True)
class OrderFact:
    """The current state of one order; `amount_fen` is what the customer paid (discount already off)."""

    order_id: str
    customer_id: str
    paid_at: datetime
    amount_fen: int
    status: OrderStatus
    discount_fen: int = 0
    items: tuple[str, ...] = ()
    order_type: str = "normal"
    coupon_instance_id: str | None = None


@dataclass(frozen=True, slots=True)
class EventFact:
    """One behaviour event; `value` is seconds for live_watch and the new level for fan_level_up."""

    event_id: str
    customer_id: str
    type: EventType
    at: datetime
    value: int | None = None
    content: str | None = None
    rating: Rating | None = None
    channel: str | None = None
    order_id: str | None = None
    items: tuple[str, ...] = ()


class CountedOrder(NamedTuple):
    """What one purchase contributes: its instant (epoch seconds) and amount."""

    at: int
    amount_fen: int


class DayCounts(NamedTuple):
    """Engagement of one local calendar day."""

    visits: int = 0
    live_watch_seconds: int = 0
    live_watch_max_seconds: int = 0
    live_interactions: int = 0
    product_views: int = 0
    cart_views: int = 0
    cart_clicks: int = 0
    reviews: int = 0
    good_reviews: int = 0


class FollowState(NamedTuple):
    """The latest follow/unfollow event; (at, event_id) orders events deterministically."""

    at: int
    event_id: str
    following: bool


@dataclass(frozen=True, slots=True)
class CustomerActivity:
    """Derived activity state, folded from orders and events; instants are epoch seconds, days local ISO dates.

    Purchases are kept per order (`orders`: id -> instant and amount) while their payment lies within the
    order horizon of `watermark` (the latest instant applied): window counts are then exact for any as_of,
    a refund removes exactly what the payment added and a replay finds the same entry. Older purchases are
    folded into the `archived_*` totals, with an 8-byte digest of their id kept so that a re-send of an
    archived order is still not counted twice. `closed_orders` remembers refunded/cancelled ids (terminal).
    """

    orders: Mapping[str, CountedOrder] = field(default_factory=dict)
    closed_orders: Mapping[str, int] = field(default_factory=dict)
    archived_orders: int = 0
    archived_spend_fen: int = 0
    archived_first_at: int | None = None
    archived_last_at: int | None = None
    archived_ids: frozenset[str] = frozenset()
    days: Mapping[str, DayCounts] = field(default_factory=dict)
    last_at: Mapping[str, int] = field(default_factory=dict)
    follow: FollowState | None = None
    fan_level: int = 0
    unsubscribed: frozenset[str] = frozenset()
    event_ids: tuple[str, ...] = ()
    watermark: int = 0
    first_visit: tuple[int, str] | None = None  # the earliest visit (at, event id): the first-visit trigger's


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    """Every value the rule language reads, evaluated for one customer at one as_of instant.

    Purchase windows are exact on instants (as_of - N days < t <= as_of); engagement counts (`*_30d`,
    `*_15d`, yesterday flags) are per local calendar day: the N local days ending on as_of's local day.
    """

    customer_id: str
    gender: str | None
    age_band: str | None
    birthday: date | None
    birthday_md: int | None  # month * 100 + day, so birthday operators compare one int
    region: str | None
    city_tier: int | None
    device_brand: str | None
    device_os: str | None
    registered_at: datetime | None
    phone_bound: bool
    member_level: int
    fan_level: int
    is_follower: bool
    tags: frozenset[str]
    staff_owner: str | None
    risk_flagged: bool
    reachable_channels: frozenset[str]
    cards: tuple[Card, ...]
    first_order_at: datetime | None
    last_order_at: datetime | None
    orders_total: int
    spend_total: int
    aov: int
    orders_15d: int
    orders_30d: int
    spend_30d: int
    orders_90d: int
    spend_90d: int
    orders_180d: int
    spend_180d: int
    aov_180d: int
    days_since_last_order: int | None
    ordered_yesterday: bool
    last_visit_at: datetime | None
    visited_yesterday: bool
    visits_30d: int
    live_watch_seconds_30d: int
    live_interactions_30d: int
    product_views_30d: int
    cart_views_30d: int
    cart_clicks_30d: int
    reviews_30d: int
    review_good_30d: int
    product_views_15d: int
    live_watch_max_seconds_15d: int
    last_review_at: datetime | None
    last_good_review_at: datetime | None
    last_service_at: datetime | None
    last_card_used_at: datetime | None


def activity_to_doc(activity: CustomerActivity) -> dict[str, object]:
    """A JSON-compatible document of the activity state (what the store persists)."""
    follow = activity.follow
    return {
        "v": 1,
        "orders": {oid: [o.at, o.amount_fen] for oid, o in activity.orders.items()},
        "closed_orders": dict(activity.closed_orders),
        "archived": [activity.archived_orders, activity.archived_spend_fen,
                     activity.archived_first_at, activity.archived_last_at],
        "archived_ids": sorted(activity.archived_ids),
        "days": {day: list(counts) for day, counts in activity.days.items()},
        "last_at": dict(activity.last_at),
        "follow": [follow.at, follow.event_id, follow.following] if follow else None,
        "fan_level": activity.fan_level,
        "unsubscribed": sorted(activity.unsubscribed),
        "event_ids": list(activity.event_ids),
        "watermark": activity.watermark,
        "first_visit": list(activity.first_visit) if activity.first_visit else None,
    }


def activity_from_doc(doc: Mapping[str, Any]) -> CustomerActivity:
    """Inverse of activity_to_doc; numbers may come back from a store as Decimal (always whole)."""
    archived = doc.get("archived") or [0, 0, None, None]
    first, last = archived[2], archived[3]
    follow = doc.get("follow")
    return CustomerActivity(
        orders={oid: CountedOrder(int(v[0]), int(v[1])) for oid, v in (doc.get("orders") or {}).items()},
        closed_orders={oid: int(at) for oid, at in (doc.get("closed_orders") or {}).items()},
        archived_orders=int(archived[0]),
        archived_spend_fen=int(archived[1]),
        archived_first_at=None if first is None else int(first),
        archived_last_at=None if last is None else int(last),
        archived_ids=frozenset(str(d) for d in doc.get("archived_ids") or ()),
        days={day: DayCounts(*(int(n) for n in v)) for day, v in (doc.get("days") or {}).items()},
        last_at={kind: int(at) for kind, at in (doc.get("last_at") or {}).items()},
        follow=FollowState(int(follow[0]), str(follow[1]), bool(follow[2])) if follow else None,
        fan_level=int(doc.get("fan_level") or 0),
        unsubscribed=frozenset(str(c) for c in doc.get("unsubscribed") or ()),
        event_ids=tuple(str(e) for e in doc.get("event_ids") or ()),
        watermark=int(doc.get("watermark") or 0),
        first_visit=_first_visit(doc.get("first_visit")),
    )


def _first_visit(raw: Any) -> tuple[int, str] | None:
    return (int(raw[0]), str(raw[1])) if raw else None
