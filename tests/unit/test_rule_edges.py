"""The rule language at its edges: every card-selector error with its path and reason, nested groups bound to the
same instant and local day as the top level, and an aware as_of."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.audiences.rules import RuleError, compile_rule, parse_rule
from chalicelib.customers.metrics import facts_as_of
from chalicelib.customers.model import CustomerActivity, CustomerProfile

TZ = "Asia/Shanghai"
AS_OF = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 12:00 on 23 November in Shanghai
BASE = facts_as_of(CustomerProfile("c"), CustomerActivity(), TZ, AS_OF)


def _card(card: object, field: str = "card_balance") -> dict[str, object]:
    return {"all": [{"field": field, "op": "lt", "value": 100, "card": card}]}


@pytest.mark.parametrize(("rule", "path", "reason"), [
    (_card("stored_value"), "rule.all[0].card", "must be an object with kind, card_id and/or active"),
    (_card({"color": "x"}), "rule.all[0].card.color", "unknown key; a card selector has kind, card_id and active"),
    (_card({"kind": "gold"}), "rule.all[0].card.kind", "must be one of stored_value, times"),
    (_card({"kind": "times"}), "rule.all[0].card.kind", "card_balance reads stored_value cards only"),
    (_card({"card_id": ""}), "rule.all[0].card.card_id", "must be a non-empty string"),
    (_card({"card_id": 7}), "rule.all[0].card.card_id", "must be a non-empty string"),
    (_card({"active": "yes"}), "rule.all[0].card.active", "must be true or false"),
    ({"all": [{"field": "orders_30d", "op": "gte", "value": 1, "card": {}}]}, "rule.all[0].card",
     "orders_30d is not a card field; only card_* fields take a card selector"),
    ({"all": [{"field": "age_band", "op": "eq", "value": 5}]}, "rule.all[0].value",
     "must be a non-empty string of at most 200 characters"),
])
def test_a_bad_rule_names_the_exact_path_and_reason(rule, path, reason):
    with pytest.raises(RuleError) as caught:
        parse_rule(rule)
    assert (caught.value.path, caught.value.reason) == (path, reason)


def test_a_card_selector_with_every_key_is_accepted():
    parse_rule(_card({"kind": "stored_value", "card_id": "k1", "active": True}))


def test_a_nested_group_is_evaluated_at_the_same_instant_and_local_day_as_the_rule():
    registered = dataclasses.replace(BASE, registered_at=AS_OF - timedelta(days=2), birthday=date(1990, 11, 30),
                                     birthday_md=1130)
    rule = {"all": [{"any": [{"field": "registered_at", "op": "within_days", "value": 3},
                             {"field": "orders_30d", "op": "gte", "value": 5}]},
                    {"any": [{"field": "birthday", "op": "birthday_in_days", "value": 7},
                             {"field": "orders_30d", "op": "gte", "value": 5}]}]}
    assert compile_rule(parse_rule(rule), AS_OF, TZ)(registered) is True
    assert compile_rule(parse_rule(rule), AS_OF + timedelta(days=2), TZ)(registered) is False


def test_compiling_needs_an_aware_as_of():
    with pytest.raises(ValueError) as caught:
        rule = parse_rule({"all": [{"field": "orders_30d", "op": "gte", "value": 1}]})
        compile_rule(rule, datetime(2026, 11, 23), TZ)
    assert str(caught.value) == "as_of must be timezone-aware"
