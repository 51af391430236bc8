"""Built-in audiences with SPEC §4's exact definitions (RFM, scene, key, recommended, scenario) over CustomerFacts."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction

from chalicelib.customers.model import CustomerFacts

Predicate = Callable[[CustomerFacts], bool]


@dataclass(frozen=True, slots=True)
class RfmSettings:
    """Merchant RFM settings: the recency window, the purchase count for high F, a fixed M threshold (else median)."""

    recent_days: int = 30
    frequency_threshold: int = 2
    monetary_threshold_fen: int | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.recent_days <= 180:
            raise ValueError("recent_days must be 1..180 (RFM covers purchases within 180 days)")
        if self.frequency_threshold < 1:
            raise ValueError("frequency_threshold must be at least 1")
        if self.monetary_threshold_fen is not None and self.monetary_threshold_fen < 0:
            raise ValueError("monetary_threshold_fen must not be negative")


@dataclass(frozen=True, slots=True)
class BuiltinAudience:
    """One built-in audience as listed to merchants."""

    id: str
    name_zh: str
    name_en: str
    description: str


BUILTIN_AUDIENCES: tuple[BuiltinAudience, ...] = (
    BuiltinAudience("rfm_high_value", "高价值客户", "High value",
                    "Last purchase within the recency window, high purchase count and high average order value."),
    BuiltinAudience("rfm_potential_high_value", "潜力高价值客户", "Potential high value",
                    "Recent, low purchase count, high average order value."),
    BuiltinAudience("rfm_raise_basket", "需提升客单客户", "Needs a higher basket",
                    "Recent, high purchase count, low average order value."),
    BuiltinAudience("rfm_repurchase", "需促复购客户", "Needs a repurchase",
                    "Recent, low purchase count, low average order value."),
    BuiltinAudience("rfm_churned_high_value", "流失的高价值客户", "Churned high value",
                    "Purchased within 180 days but not recently; high purchase count and average order value."),
    BuiltinAudience("rfm_churned_raise_basket", "流失的需提升客单客户", "Churned, needs a higher basket",
                    "Purchased within 180 days but not recently; high purchase count, low average order value."),
    BuiltinAudience("scene_followers", "粉丝", "Followers", "Follows the store now."),
    BuiltinAudience("scene_visited_no_order_yesterday", "昨日进店未下单", "Visited yesterday, no order",
                    "Visited the store yesterday and made no purchase yesterday (local calendar day)."),
    BuiltinAudience("scene_good_reviewers", "好评用户", "Good reviewers",
                    "Wrote a good review with content within 30 days."),
    BuiltinAudience("scene_non_reviewers", "未评价用户", "Non-reviewers",
                    "Purchased within 30 days and wrote no review within 30 days."),
    BuiltinAudience("key_new", "新客", "New customers",
                    "Exactly one purchase within 30 days and the first purchase ever within 180 days."),
    BuiltinAudience("key_old", "老客", "Returning customers", "A purchase within 180 days, not a new customer."),
    BuiltinAudience("key_potential", "潜客", "Prospects",
                    "Viewed a product, or watched one live stream longer than 15 s, within 15 days; "
                    "neither new nor old."),
    BuiltinAudience("rec_silent", "沉默客户", "Silent customers",
                    "No purchase within 30 days, a purchase within 180 days."),
    BuiltinAudience("rec_fan_level", "粉丝团成员", "Fan-level holders",
                    "Follows the store and has fan level 1 or more."),
    BuiltinAudience("rec_live_active_non_buyers", "直播间活跃未购用户", "Live-active non-buyers",
                    "Commented, liked, shared or gifted in a live stream within 30 days and never purchased."),
    BuiltinAudience("rec_loyal", "忠实客户", "Loyal customers",
                    "A purchase within 30 days and at least 2 purchases within 180 days."),
    BuiltinAudience("rec_returning", "回头客", "Repeat buyers", "At least 2 purchases within 180 days."),
    BuiltinAudience("rec_recent_buyers", "近期购买客户", "Recent buyers", "A purchase within 30 days."),
    BuiltinAudience("scenario_grow_new_members", "待培育新会员", "New members to grow",
                    "Registered within 30 days but not within 7 days, fewer than 3 purchases ever."),
    BuiltinAudience("scenario_sleeping", "沉睡客户", "Sleeping customers",
                    "No purchase within 15 days, a purchase within 90 days."),
)
BUILTIN_IDS: tuple[str, ...] = tuple(a.id for a in BUILTIN_AUDIENCES)
# (recent, frequency high, monetary high) -> RFM audience; lapsed with low frequency has no audience.
_RFM_CELLS = {
    (True, True, True): "rfm_high_value",
    (True, False, True): "rfm_potential_high_value",
    (True, True, False): "rfm_raise_basket",
    (True, False, False): "rfm_repurchase",
    (False, True, True): "rfm_churned_high_value",
    (False, True, False): "rfm_churned_raise_basket",
}


def median_fen(values: Iterable[int]) -> Fraction | None:
    """Median of fen amounts (mean of the two middle values for an even count); None when there are none."""
    ordered = sorted(values)
    if not ordered:
        return None
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return Fraction(ordered[mid])
    return Fraction(ordered[mid - 1] + ordered[mid], 2)


def rfm_median(facts: Iterable[CustomerFacts]) -> Fraction | None:
    """First pass of RFM: the median 180-day average order value over customers with a purchase within 180 d."""
    return median_fen(f.aov_180d for f in facts if f.orders_180d > 0)


class BuiltinEvaluator:
    """Classifies facts evaluated at `as_of` (facts_as_of already applied the merchant zone to day values).

    `median` is rfm_median over the merchant's customers at the same as_of; it is only needed when the
    settings carry no monetary threshold. Without either, no customer is in an RFM audience.
    """

    def __init__(self, as_of: datetime, settings: RfmSettings | None = None, median: Fraction | None = None) -> None:
        if as_of.tzinfo is None:
            raise ValueError("as_of must be timezone-aware")
        self.as_of = as_of.astimezone(UTC)
        self.settings = settings or RfmSettings()
        threshold = self.settings.monetary_threshold_fen
        self.monetary_cut: Fraction | None = Fraction(threshold) if threshold is not None else median
        self._recent_after = self.as_of - timedelta(days=self.settings.recent_days)
        self._predicates = self._build()

    def rfm_cell(self, f: CustomerFacts) -> str | None:
        """The RFM audience of one customer, or None (no purchase within 180 d, lapsed with low F, no cut)."""
        if f.orders_180d == 0 or self.monetary_cut is None or f.last_order_at is None:
            return None
        recent = f.last_order_at > self._recent_after
        frequent = f.orders_180d >= self.settings.frequency_threshold
        return _RFM_CELLS.get((recent, frequent, f.aov_180d >= self.monetary_cut))

    def matches(self, audience_id: str, f: CustomerFacts) -> bool:
        """Whether the customer is in the built-in audience (KeyError for an unknown id)."""
        return self._predicates[audience_id](f)

    def predicate(self, audience_id: str) -> Predicate:
        """The membership test of one built-in audience."""
        return self._predicates[audience_id]

    def memberships(self, f: CustomerFacts) -> tuple[str, ...]:
        """Every built-in audience the customer is in, in catalogue order."""
        return tuple(aid for aid, pred in self._predicates.items() if pred(f))

    def _build(self) -> dict[str, Predicate]:
        as_of = self.as_of
        after7, after30, after180 = (as_of - timedelta(days=n) for n in (7, 30, 180))

        def within_30d(t: datetime | None) -> bool:
            return t is not None and after30 < t <= as_of

        def new(f: CustomerFacts) -> bool:
            return f.orders_30d == 1 and f.first_order_at is not None and after180 < f.first_order_at <= as_of

        def old(f: CustomerFacts) -> bool:
            return f.orders_180d > 0 and not new(f)

        def rfm(cell: str) -> Predicate:
            return lambda f: self.rfm_cell(f) == cell

        predicates: dict[str, Predicate] = {cell: rfm(cell) for cell in BUILTIN_IDS if cell.startswith("rfm_")}
        predicates.update({
            "scene_followers": lambda f: f.is_follower,
            "scene_visited_no_order_yesterday": lambda f: f.visited_yesterday and not f.ordered_yesterday,
            "scene_good_reviewers": lambda f: within_30d(f.last_good_review_at),
            "scene_non_reviewers": lambda f: f.orders_30d > 0 and not within_30d(f.last_review_at),
            "key_new": new,
            "key_old": old,
            "key_potential": lambda f: ((f.product_views_15d > 0 or f.live_watch_max_seconds_15d > 15)
                                        and not new(f) and not old(f)),
            "rec_silent": lambda f: f.orders_30d == 0 and f.orders_180d > 0,
            "rec_fan_level": lambda f: f.is_follower and f.fan_level >= 1,
            "rec_live_active_non_buyers": lambda f: f.live_interactions_30d > 0 and f.orders_total == 0,
            "rec_loyal": lambda f: f.orders_30d > 0 and f.orders_180d >= 2,
            "rec_returning": lambda f: f.orders_180d >= 2,
            "rec_recent_buyers": lambda f: f.orders_30d > 0,
            "scenario_grow_new_members": lambda f: (f.registered_at is not None and after30 < f.registered_at <= after7
                                                    and f.orders_total < 3),
            "scenario_sleeping": lambda f: f.orders_15d == 0 and f.orders_90d > 0,
        })
        return {aid: predicates[aid] for aid in BUILTIN_IDS}


def builtin_counts(facts: Iterable[CustomerFacts], evaluator: BuiltinEvaluator) -> dict[str, int]:
    """Members per built-in audience (callers list only the non-empty ones)."""
    counts = dict.fromkeys(BUILTIN_IDS, 0)
    for f in facts:
        for aid in evaluator.memberships(f):
            counts[aid] += 1
    return counts
