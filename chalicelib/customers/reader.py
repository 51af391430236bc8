"""The customer read model: stored profile and activity → masked profile and metrics as of now."""

from __future__ import annotations

from typing import Protocol

from chalicelib.core.auth import Role
from chalicelib.core.clock import Clock
from chalicelib.core.pii import shown_profile
from chalicelib.customers.convert import profile_from_doc
from chalicelib.customers.metrics import facts_as_of
from chalicelib.customers.model import CustomerActivity, activity_from_doc
from chalicelib.customers.rows import CustomerRow
from chalicelib.customers.schemas import CustomerOut, Metrics


class RowSource(Protocol):
    def get_row(self, merchant_id: str, customer_id: str) -> CustomerRow | None: ...


class TimezoneOf(Protocol):
    def __call__(self, merchant_id: str) -> str: ...


class CustomerReader:
    def __init__(self, rows: RowSource, timezone_of: TimezoneOf, clock: Clock) -> None:
        self._rows = rows
        self._tz = timezone_of
        self._clock = clock

    def customer(self, merchant_id: str, customer_id: str, role: Role = Role.READONLY) -> CustomerOut | None:
        """The profile as `role` may see it (core.pii: readonly keys get no full e-mail or birthday) and metrics."""
        row = self._rows.get_row(merchant_id, customer_id)
        if row is None:
            return None
        tz = self._tz(merchant_id)
        now = self._clock()
        profile = profile_from_doc(customer_id, row.profile)
        activity = activity_from_doc(row.activity) if row.activity else CustomerActivity()
        f = facts_as_of(profile, activity, tz, now)
        shown = shown_profile(row.profile, role) if row.profile else None
        metrics = Metrics(
            as_of=now, first_order_at=f.first_order_at, last_order_at=f.last_order_at,
            orders_total=f.orders_total, spend_total=f.spend_total, aov=f.aov, orders_30d=f.orders_30d,
            spend_30d=f.spend_30d, orders_90d=f.orders_90d, spend_90d=f.spend_90d, orders_180d=f.orders_180d,
            spend_180d=f.spend_180d, days_since_last_order=f.days_since_last_order, last_visit_at=f.last_visit_at,
            live_watch_seconds_30d=f.live_watch_seconds_30d, live_interactions_30d=f.live_interactions_30d,
            product_views_30d=f.product_views_30d, cart_views_30d=f.cart_views_30d,
            cart_clicks_30d=f.cart_clicks_30d, reviews_30d=f.reviews_30d, review_good_30d=f.review_good_30d,
            is_follower=f.is_follower, fan_level=f.fan_level, reachable_channels=sorted(f.reachable_channels))
        return CustomerOut(customer_id=customer_id, profile=shown, metrics=metrics)
