"""Pure coupon rules: claim deadlines, validity windows, computed expiry, redemption checks, value text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from chalicelib.coupons.model import CouponInstance, CouponTerms, InstanceStatus, OrderLine


def local_date(instant: datetime, tz: str) -> date:
    """The calendar day of `instant` in zone `tz`."""
    return instant.astimezone(ZoneInfo(tz)).date()


def local_midnight(day: date, tz: str) -> datetime:
    """00:00 local of `day` (i.e. 24:00 of the day before) as an aware UTC instant."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def fixed_window(terms: CouponTerms, tz: str) -> tuple[datetime, datetime] | None:
    """[start 00:00, end 24:00) local for fixed validity; None for relative validity."""
    v = terms.validity
    if v.kind != "fixed" or v.start is None or v.end is None:
        return None
    return local_midnight(v.start, tz), local_midnight(v.end + timedelta(days=1), tz)


def claim_deadline(terms: CouponTerms, issued_at: datetime, tz: str) -> datetime | None:
    """The instant claiming stops: 24:00 local of the last natural day of the window (None: any time).

    "within 2 days" issued today means today and tomorrow until 24:00 (004). A fixed validity that ends
    earlier ends the claim window too: a coupon that can no longer be used cannot be claimed.
    """
    window = terms.claim_window
    deadline: datetime | None = None
    if window.kind != "any_time":
        days = 1 if window.kind == "issue_day" else int(window.days or 1)
        deadline = local_midnight(local_date(issued_at, tz) + timedelta(days=days), tz)
    fixed = fixed_window(terms, tz)
    if fixed is not None:
        deadline = fixed[1] if deadline is None else min(deadline, fixed[1])
    return deadline


def validity_from_claim(terms: CouponTerms, claimed_at: datetime, tz: str) -> tuple[datetime, datetime]:
    """The usable window once claimed: the fixed dates, or N natural days counted from the claim day."""
    fixed = fixed_window(terms, tz)
    if fixed is not None:
        return fixed
    days = int(terms.validity.days or 1)
    return claimed_at, local_midnight(local_date(claimed_at, tz) + timedelta(days=days), tz)


def issuable(terms: CouponTerms, now: datetime, tz: str) -> bool:
    """False when a fixed validity is already over: issuing it would hand out a dead coupon."""
    fixed = fixed_window(terms, tz)
    return fixed is None or now < fixed[1]


@dataclass(frozen=True)
class IssueTimes:
    claim_deadline: datetime | None
    claimed_at: datetime | None
    valid_from: datetime | None
    valid_until: datetime | None


def issue_times(terms: CouponTerms, now: datetime, tz: str, *, direct: bool) -> IssueTimes:
    """Direct-to-wallet coupons are claimed on issue; message coupons wait for a claim inside the window."""
    if direct:
        start, end = validity_from_claim(terms, now, tz)
        return IssueTimes(None, now, start, end)
    fixed = fixed_window(terms, tz)
    return IssueTimes(claim_deadline(terms, now, tz), None, fixed[0] if fixed else None,
                      fixed[1] if fixed else None)


def effective_status(instance: CouponInstance, now: datetime) -> InstanceStatus:
    """Stored status, or `expired` once the claim deadline (unclaimed) or validity (claimed) has passed."""
    if instance.status is InstanceStatus.ISSUED and instance.claim_deadline and now >= instance.claim_deadline:
        return InstanceStatus.EXPIRED
    if instance.status is InstanceStatus.CLAIMED and instance.valid_until and now >= instance.valid_until:
        return InstanceStatus.EXPIRED
    return instance.status


def claim_refusal(instance: CouponInstance, customer_id: str, now: datetime) -> str | None:
    """Why this customer may not claim this instance now (None: the claim may proceed)."""
    if instance.customer_id != customer_id:
        return "wrong_customer"
    if instance.status is InstanceStatus.CLAIMED:
        return "already_claimed"
    if instance.status is InstanceStatus.REDEEMED:
        return "already_redeemed"
    if effective_status(instance, now) is InstanceStatus.EXPIRED:
        return "claim_window_closed"
    return None


def eligible_value(terms: CouponTerms, order_amount_fen: int, lines: Sequence[OrderLine]) -> int:
    """The part of the order the coupon applies to: the whole order, or the named items' lines."""
    if terms.kind == "store_threshold":
        return order_amount_fen
    named = set(terms.item_ids)
    return sum(line.price_fen * line.quantity for line in lines if line.item_id in named)


def discount_for(terms: CouponTerms, order_amount_fen: int, lines: Sequence[OrderLine]) -> int:
    """Fen taken off: the fixed amount, or percent of the eligible items floored and capped."""
    if terms.kind == "store_threshold":
        return min(int(terms.discount_fen or 0), order_amount_fen)
    value = eligible_value(terms, order_amount_fen, lines) * int(terms.percent_off or 0) // 100
    return min(value, terms.cap_fen) if terms.cap_fen is not None else value


def redemption_refusal(instance: CouponInstance, order_amount_fen: int, lines: Sequence[OrderLine],
                       paid_at: datetime) -> str | None:
    """Why an order may not redeem this instance (None: it may). Window checks use the order's paid_at."""
    if instance.status is InstanceStatus.REDEEMED:
        return "already_redeemed"
    if instance.status is not InstanceStatus.CLAIMED:
        return "not_claimed"
    if instance.valid_from and paid_at < instance.valid_from:
        return "not_yet_valid"
    if instance.valid_until and paid_at >= instance.valid_until:
        return "expired"
    terms = instance.terms
    if terms.kind == "store_threshold" and order_amount_fen < int(terms.threshold_fen or 0):
        return "below_threshold"
    if terms.kind == "item_discount" and not set(terms.item_ids) & {line.item_id for line in lines}:
        return "items_not_eligible"
    return None


def yuan(fen: int) -> str:
    """Fen as yuan text without trailing zeros: 3000 → 30, 1250 → 12.5, 1205 → 12.05."""
    whole, cents = divmod(fen, 100)
    return str(whole) if cents == 0 else f"{whole}.{cents:02d}".rstrip("0")


def value_text(terms: CouponTerms) -> str:
    """The coupon's value as customers read it: 满30元减5元, 8.5折 (最高减10元)."""
    if terms.kind == "store_threshold":
        return f"满{yuan(int(terms.threshold_fen or 0))}元减{yuan(int(terms.discount_fen or 0))}元"
    tenths = 100 - int(terms.percent_off or 0)
    rate = str(tenths // 10) if tenths % 10 == 0 else f"{tenths / 10:g}"
    cap = f"(最高减{yuan(terms.cap_fen)}元)" if terms.cap_fen is not None else ""
    return f"{rate}折{cap}"
