"""Canonical audience keys (issue 18 item 4): one population, one key, however the target writes it."""

from __future__ import annotations

from chalicelib.audiences.canonical import canonical_rule, list_key, rule_key, staff_key

A = {"field": "member_level", "op": "gte", "value": 1}
B = {"field": "city_tier", "op": "in", "value": [2, 1]}
C = {"field": "tags", "op": "contains", "value": "vip"}


def test_a_rule_has_one_key_whatever_the_order_of_its_conditions_and_of_a_set_value():
    assert rule_key({"all": [A, B]}) == rule_key({"all": [B, A]})
    assert rule_key({"all": [A, B]}) == rule_key({"all": [A, {**B, "value": [1, 2, 2]}]})
    assert rule_key({"all": [A]}) == rule_key({"any": [A]})  # one condition: all and any agree
    assert rule_key({"all": [A, {"all": [B, C]}]}) == rule_key({"all": [C, B, A]})  # same mode nested: spliced
    assert rule_key({"any": [A, {"all": [B]}]}) == rule_key({"any": [B, A]})  # a group of one is its condition
    assert rule_key({"all": [{"any": [A, B]}]}) == rule_key({"any": [B, A]})  # a group of one group is that group
    assert rule_key({"all": [{**A, "value": 1.0}]}) == rule_key({"all": [A]})  # whole numbers are integers
    assert rule_key({"all": [A, A]}) == rule_key({"all": [A]})  # a repeated condition adds nothing


def test_different_populations_have_different_keys():
    assert rule_key({"all": [A, B]}) != rule_key({"any": [A, B]})
    assert rule_key({"all": [A]}) != rule_key({"all": [{**A, "value": 2}]})
    between = {"field": "orders_30d", "op": "between", "value": [1, 5]}
    assert rule_key({"all": [between]}) != rule_key({"all": [{**between, "value": [5, 1]}]})  # not a set
    assert rule_key({"all": [{**A, "value": 1.5}]}) != rule_key({"all": [A]})
    assert rule_key({"any": [A, {"all": [B, C]}]}) != rule_key({"any": [A, B, C]})  # another mode is kept


def test_canonical_rule_sorts_and_keeps_card_selectors_and_nested_values():
    card = {"field": "card_remaining_count", "op": "lte", "value": 2.0, "card": {"kind": "times"}}
    assert canonical_rule({"any": [C, card]}) == {"any": [
        {"field": "card_remaining_count", "op": "lte", "value": 2, "card": {"kind": "times"}}, C]}
    assert canonical_rule({"all": [{"field": "x", "op": "not_in", "value": ["b", "a", "b"]}]}) == {
        "all": [{"field": "x", "op": "not_in", "value": ["a", "b"]}]}


def test_lists_and_staff_targets_are_keyed_by_their_sets_of_ids():
    assert list_key(["c2", "c1", "c1"]) == list_key(["c1", "c2"]) and list_key(["c1"]) != list_key(["c1", "c2"])
    assert staff_key(["s2", "s1"]) == staff_key(["s1", "s2"]) and staff_key(["s1"]) != list_key(["s1"])
    assert rule_key({"all": [A]}).startswith("rule_") and list_key([]).startswith("list_")
    assert len(rule_key({"all": [A]})) == len("rule_") + 20
