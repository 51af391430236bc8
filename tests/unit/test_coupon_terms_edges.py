"""Coupon rules at their edges: claim windows against fixed validity, the exact ends of validity, absent amounts."""

from __future__ import annotations

import time as _time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.coupons import terms as coupon_terms
from chalicelib.coupons.model import ClaimWindow, CouponInstance, CouponTerms, InstanceStatus, OrderLine, Validity

TZ = "Asia/Shanghai"
SH = ZoneInfo(TZ)
ISSUED = datetime(2026, 11, 23, 10, 0, tzinfo=SH)
WEEK = Validity("relative", days=7)
ISSUE_DAY = ClaimWindow("issue_day")


def local(y: int, m: int, d: int, hh: int = 0) -> datetime:
    return datetime(y, m, d, hh, tzinfo=SH).astimezone(UTC)


def terms(window: ClaimWindow = ISSUE_DAY, validity: Validity = WEEK, **kw: object) -> CouponTerms:
    base: dict[str, object] = {"name": "满30减5", "kind": "store_threshold", "threshold_fen": 3000, "discount_fen": 500}
    return CouponTerms(validity=validity, claim_window=window, **{**base, **kw})  # type: ignore[arg-type]


def claimed(t: CouponTerms, valid_from: datetime, valid_until: datetime) -> CouponInstance:
    return CouponInstance("m", "ci", "cp", t, "c1", InstanceStatus.CLAIMED, valid_from, valid_from=valid_from,
                          valid_until=valid_until)


@pytest.fixture
def server_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    _time.tzset()
    yield
    monkeypatch.undo()
    _time.tzset()


def test_an_issue_day_window_is_one_day_whatever_days_it_carries():
    assert coupon_terms.claim_deadline(terms(ClaimWindow("issue_day", 3)), ISSUED, TZ) == local(2026, 11, 24)


def test_a_within_days_window_without_days_is_one_day():
    assert coupon_terms.claim_deadline(terms(ClaimWindow("within_days")), ISSUED, TZ) == local(2026, 11, 24)


def test_the_claim_window_ends_first_when_the_fixed_validity_ends_later():
    fixed = Validity("fixed", date(2026, 11, 1), date(2026, 12, 31))
    assert coupon_terms.claim_deadline(terms(ClaimWindow("within_days", 2), fixed), ISSUED, TZ) == local(2026, 11, 25)


def test_a_fixed_window_needs_fixed_validity_with_both_dates():
    assert coupon_terms.fixed_window(terms(validity=Validity("fixed", None, date(2026, 12, 1))), TZ) is None
    assert coupon_terms.fixed_window(terms(validity=Validity("fixed", date(2026, 12, 1), None)), TZ) is None
    carrying = Validity("relative", date(2026, 12, 1), date(2026, 12, 2), days=3)
    assert coupon_terms.fixed_window(terms(validity=carrying), TZ) is None
    both = Validity("fixed", date(2026, 12, 1), date(2026, 12, 2))
    assert coupon_terms.fixed_window(terms(validity=both), TZ) == (local(2026, 12, 1), local(2026, 12, 3))


def test_a_claim_of_fixed_validity_gets_the_fixed_dates_and_relative_without_days_one_day():
    fixed = terms(validity=Validity("fixed", date(2026, 12, 1), date(2026, 12, 2)))
    assert coupon_terms.validity_from_claim(fixed, ISSUED, TZ) == (local(2026, 12, 1), local(2026, 12, 3))
    one = terms(validity=Validity("relative"))
    assert coupon_terms.validity_from_claim(one, ISSUED, TZ) == (ISSUED, local(2026, 11, 24))


def test_validity_holds_from_its_first_instant_and_not_at_its_end():
    inst = claimed(terms(), local(2026, 11, 23), local(2026, 11, 30))
    assert coupon_terms.redemption_refusal(inst, 5000, [], local(2026, 11, 23)) is None
    assert coupon_terms.redemption_refusal(inst, 5000, [], local(2026, 11, 30) - timedelta(seconds=1)) is None
    assert coupon_terms.redemption_refusal(inst, 5000, [], local(2026, 11, 30)) == "expired"


def test_absent_amounts_count_as_zero():
    bare = terms(threshold_fen=None, discount_fen=None)
    inst = claimed(bare, local(2026, 11, 23), local(2026, 11, 30))
    assert coupon_terms.redemption_refusal(inst, 0, [], local(2026, 11, 24)) is None
    assert coupon_terms.discount_for(bare, 5000, []) == 0
    assert coupon_terms.value_text(bare) == "满0元减0元"
    items = terms(kind="item_discount", threshold_fen=None, discount_fen=None, percent_off=None, item_ids=("a",))
    assert coupon_terms.discount_for(items, 5000, [OrderLine("a", 1, 5000)]) == 0
    assert coupon_terms.value_text(items) == "10折"


def test_a_store_coupon_applies_to_the_whole_order_whatever_its_lines():
    assert coupon_terms.eligible_value(terms(), 5000, [OrderLine("x", 1, 100)]) == 5000
    items = terms(kind="item_discount", percent_off=10, item_ids=("a",))
    assert coupon_terms.eligible_value(items, 5000, [OrderLine("a", 2, 100), OrderLine("x", 1, 100)]) == 200


@pytest.mark.parametrize(("percent", "text"), [(10, "9折"), (25, "7.5折"), (5, "9.5折"), (50, "5折")])
def test_value_text_of_a_percent_discount(percent, text):
    assert coupon_terms.value_text(terms(kind="item_discount", percent_off=percent, item_ids=("a",))) == text


def test_local_midnights_come_back_in_utc_whatever_the_servers_zone(server_zone):
    got = coupon_terms.local_midnight(date(2026, 11, 24), TZ)
    assert got == local(2026, 11, 24) and got.tzinfo is UTC
