"""Pure coupon rules: claim-window edges at local midnight, validity, computed expiry, redemption, value text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.coupons import terms as coupon_terms
from chalicelib.coupons.model import ClaimWindow, CouponInstance, CouponTerms, InstanceStatus, OrderLine, Validity

TZ = "Asia/Shanghai"
SH = ZoneInfo(TZ)


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=SH).astimezone(UTC)


ISSUE_DAY = ClaimWindow("issue_day")
WEEK = Validity("relative", days=7)


def terms(window: ClaimWindow = ISSUE_DAY, validity: Validity = WEEK, **kw: object) -> CouponTerms:
    base: dict[str, object] = {"name": "满30减5", "kind": "store_threshold", "threshold_fen": 3000, "discount_fen": 500}
    base.update(kw)
    return CouponTerms(validity=validity, claim_window=window, **base)  # type: ignore[arg-type]


def instance(t: CouponTerms, issued_at: datetime, *, direct: bool = False) -> CouponInstance:
    times = coupon_terms.issue_times(t, issued_at, TZ, direct=direct)
    return CouponInstance("m", "ci_1", "cp_1", t, "c1", InstanceStatus.CLAIMED if direct else InstanceStatus.ISSUED,
                          issued_at, claim_deadline=times.claim_deadline, claimed_at=times.claimed_at,
                          valid_from=times.valid_from, valid_until=times.valid_until)


def test_issue_day_coupon_is_claimable_at_2359_and_expired_at_0000_local() -> None:
    issued = local(2026, 11, 23, 10, 0)
    inst = instance(terms(ClaimWindow("issue_day")), issued)
    assert inst.claim_deadline == local(2026, 11, 24)
    assert coupon_terms.claim_refusal(inst, "c1", local(2026, 11, 23, 23, 59, 59)) is None
    assert coupon_terms.claim_refusal(inst, "c1", local(2026, 11, 24, 0, 0)) == "claim_window_closed"
    assert coupon_terms.effective_status(inst, local(2026, 11, 24)) is InstanceStatus.EXPIRED


def test_issue_day_window_belongs_to_the_local_day_when_issued_at_2359_or_0000() -> None:
    late = instance(terms(), local(2026, 11, 23, 23, 59))
    assert late.claim_deadline == local(2026, 11, 24)  # one minute to claim: the issue day is over at 24:00
    early = instance(terms(), local(2026, 11, 24, 0, 0))
    assert early.claim_deadline == local(2026, 11, 25)


def test_within_two_days_means_today_and_tomorrow_until_2400_local() -> None:
    inst = instance(terms(ClaimWindow("within_days", 2)), local(2026, 11, 23, 23, 59))
    assert inst.claim_deadline == local(2026, 11, 25)
    assert coupon_terms.claim_refusal(inst, "c1", local(2026, 11, 24, 23, 59, 59)) is None
    assert coupon_terms.claim_refusal(inst, "c1", local(2026, 11, 25, 0, 0)) == "claim_window_closed"


def test_any_time_window_has_no_deadline_unless_fixed_validity_ends_first() -> None:
    assert instance(terms(ClaimWindow("any_time")), local(2026, 11, 23)).claim_deadline is None
    fixed = Validity("fixed", date(2026, 11, 20), date(2026, 11, 30))
    inst = instance(terms(ClaimWindow("any_time"), fixed), local(2026, 11, 23))
    assert inst.claim_deadline == local(2026, 12, 1)
    assert (inst.valid_from, inst.valid_until) == (local(2026, 11, 20), local(2026, 12, 1))
    short = instance(terms(ClaimWindow("within_days", 30), fixed), local(2026, 11, 23))
    assert short.claim_deadline == local(2026, 12, 1)


def test_relative_validity_counts_natural_days_from_the_claim() -> None:
    t = terms(validity=Validity("relative", days=3))
    start, end = coupon_terms.validity_from_claim(t, local(2026, 11, 23, 23, 59), TZ)
    assert start == local(2026, 11, 23, 23, 59) and end == local(2026, 11, 26)
    direct = instance(t, local(2026, 11, 23, 8, 0), direct=True)
    assert direct.claimed_at == local(2026, 11, 23, 8, 0) and direct.valid_until == local(2026, 11, 26)
    assert direct.claim_deadline is None


def test_claimed_coupon_expires_when_validity_ends() -> None:
    inst = instance(terms(validity=Validity("relative", days=1)), local(2026, 11, 23, 8), direct=True)
    assert coupon_terms.effective_status(inst, local(2026, 11, 23, 23, 59, 59)) is InstanceStatus.CLAIMED
    assert coupon_terms.effective_status(inst, local(2026, 11, 24)) is InstanceStatus.EXPIRED
    redeemed = inst.with_(status=InstanceStatus.REDEEMED)
    assert coupon_terms.effective_status(redeemed, local(2027, 1, 1)) is InstanceStatus.REDEEMED


def test_claim_is_refused_for_another_customer_or_twice() -> None:
    inst = instance(terms(), local(2026, 11, 23, 8))
    now = local(2026, 11, 23, 9)
    assert coupon_terms.claim_refusal(inst, "c2", now) == "wrong_customer"
    assert coupon_terms.claim_refusal(inst.with_(status=InstanceStatus.CLAIMED), "c1", now) == "already_claimed"
    assert coupon_terms.claim_refusal(inst.with_(status=InstanceStatus.REDEEMED), "c1", now) == "already_redeemed"


def test_fixed_validity_already_over_is_not_issuable() -> None:
    t = terms(validity=Validity("fixed", date(2026, 11, 1), date(2026, 11, 22)))
    assert coupon_terms.issuable(t, local(2026, 11, 22, 23, 59), TZ)
    assert not coupon_terms.issuable(t, local(2026, 11, 23), TZ)


def test_redemption_checks_threshold_validity_and_status() -> None:
    inst = instance(terms(), local(2026, 11, 23, 8), direct=True)
    paid = local(2026, 11, 24, 12)
    assert coupon_terms.redemption_refusal(inst, 3000, [], paid) is None
    assert coupon_terms.redemption_refusal(inst, 2999, [], paid) == "below_threshold"
    assert coupon_terms.redemption_refusal(inst, 5000, [], local(2026, 11, 23, 7)) == "not_yet_valid"
    assert coupon_terms.redemption_refusal(inst, 5000, [], local(2026, 12, 1)) == "expired"
    assert coupon_terms.redemption_refusal(inst.with_(status=InstanceStatus.ISSUED), 5000, [], paid) == "not_claimed"
    redeemed = inst.with_(status=InstanceStatus.REDEEMED)
    assert coupon_terms.redemption_refusal(redeemed, 5000, [], paid) == "already_redeemed"
    assert coupon_terms.discount_for(inst.terms, 3000, []) == 500


def test_item_discount_applies_to_named_items_floored_and_capped() -> None:
    t = terms(kind="item_discount", threshold_fen=None, discount_fen=None, percent_off=15, item_ids=("sku1", "sku2"),
              cap_fen=None)
    inst = instance(t, local(2026, 11, 23, 8), direct=True)
    lines = [OrderLine("sku1", 2, 999), OrderLine("other", 1, 10000)]
    paid = local(2026, 11, 23, 9)
    assert coupon_terms.redemption_refusal(inst, 12000, lines, paid) is None
    assert coupon_terms.redemption_refusal(inst, 12000, [OrderLine("other", 1, 100)], paid) == "items_not_eligible"
    assert coupon_terms.discount_for(t, 12000, lines) == 299  # 15 % of 1998, floored
    capped = terms(kind="item_discount", threshold_fen=None, discount_fen=None, percent_off=50, item_ids=("sku1",),
                   cap_fen=300)
    assert coupon_terms.discount_for(capped, 12000, lines) == 300


@pytest.mark.parametrize(("kw", "text"), [
    ({}, "满30元减5元"),
    ({"threshold_fen": 1250, "discount_fen": 205}, "满12.5元减2.05元"),
    ({"kind": "item_discount", "percent_off": 15, "item_ids": ("a",)}, "8.5折"),
    ({"kind": "item_discount", "percent_off": 20, "item_ids": ("a",), "cap_fen": 1000}, "8折(最高减10元)"),
])
def test_value_text_reads_like_the_coupon(kw: dict[str, object], text: str) -> None:
    assert coupon_terms.value_text(terms(ISSUE_DAY, WEEK, **kw)) == text


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)),
       st.integers(min_value=1, max_value=365))
def test_claim_deadline_is_a_local_midnight_after_issue_within_n_days(issued: datetime, days: int) -> None:
    deadline = coupon_terms.claim_deadline(terms(ClaimWindow("within_days", days)), issued, TZ)
    assert deadline is not None and issued < deadline <= issued + timedelta(days=days)
    as_local = deadline.astimezone(SH)
    assert (as_local.hour, as_local.minute, as_local.second) == (0, 0, 0)
    assert (as_local.date() - issued.astimezone(SH).date()).days == days
