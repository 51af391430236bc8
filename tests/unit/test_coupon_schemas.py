"""Coupon template bodies: cross-field rules name the field that breaks them."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.core.errors import Invalid
from chalicelib.coupons.model import CouponTerms
from chalicelib.coupons.schemas import CouponIn, check_coupon

STORE = {"name": "满30减5", "kind": "store_threshold", "threshold_fen": 3000, "discount_fen": 500,
         "validity": {"kind": "relative", "days": 7}, "claim_window": {"kind": "issue_day"}, "stock": 10}
ITEM = {"name": "85折", "kind": "item_discount", "percent_off": 15, "item_ids": ["sku1"],
        "validity": {"kind": "fixed", "start": "2026-11-01", "end": "2026-11-30"},
        "claim_window": {"kind": "within_days", "days": 3}, "stock": 10}


def fields(body: dict[str, Any]) -> list[str]:
    with pytest.raises(Invalid) as err:
        check_coupon(CouponIn.model_validate(body))
    return [d.field for d in err.value.details]


def test_valid_templates_round_trip_into_terms() -> None:
    for body in (STORE, ITEM):
        data = check_coupon(CouponIn.model_validate(body))
        terms = CouponTerms.from_data(data)
        assert terms.to_data()["kind"] == body["kind"]
        assert CouponTerms.from_data(terms.to_data()) == terms


@pytest.mark.parametrize(("change", "field"), [
    ({"discount_fen": 3000}, "body.discount_fen"),
    ({"threshold_fen": None}, "body.threshold_fen"),
    ({"percent_off": 10}, "body.percent_off"),
    ({"validity": {"kind": "relative"}}, "body.validity.days"),
    ({"validity": {"kind": "fixed", "start": "2026-11-02", "end": "2026-11-01"}}, "body.validity.end"),
    ({"claim_window": {"kind": "within_days"}}, "body.claim_window.days"),
    ({"claim_window": {"kind": "any_time", "days": 2}}, "body.claim_window.days"),
])
def test_store_threshold_rules_name_the_field(change: dict[str, Any], field: str) -> None:
    assert field in fields({**STORE, **change})


@pytest.mark.parametrize(("change", "field"), [
    ({"item_ids": []}, "body.item_ids"),
    ({"item_ids": ["a", "a"]}, "body.item_ids"),
    ({"percent_off": None}, "body.percent_off"),
    ({"discount_fen": 100}, "body.discount_fen"),
    ({"validity": {"kind": "fixed", "start": "2026-11-01"}}, "body.validity.end"),
])
def test_item_discount_rules_name_the_field(change: dict[str, Any], field: str) -> None:
    assert field in fields({**ITEM, **change})
