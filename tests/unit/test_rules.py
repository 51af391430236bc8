"""Audience rule language: validation paths, every operator, and the compiled evaluator against a reference."""

from __future__ import annotations

import dataclasses
import itertools
import operator
from calendar import isleap
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.audiences.fields import FIELDS, OPERATORS, catalogue
from chalicelib.audiences.rules import MAX_CONDITIONS, RuleError, compile_rule, parse_rule, rule_fields
from chalicelib.core.errors import Invalid
from chalicelib.customers.metrics import facts_as_of
from chalicelib.customers.model import CHANNELS, GENDERS, Card, CustomerActivity, CustomerFacts, CustomerProfile

TZ = "Asia/Shanghai"
AS_OF = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai, 2026-11-23
BASE = facts_as_of(CustomerProfile("c"), CustomerActivity(), TZ, AS_OF)
CORE_FIELDS = (
    "gender", "age_band", "birthday", "region", "city_tier", "device_brand", "device_os", "registered_at",
    "phone_bound", "member_level", "fan_level", "is_follower", "tags", "staff_owner", "first_order_at",
    "last_order_at", "orders_total", "spend_total", "aov", "orders_30d", "spend_30d", "orders_90d", "spend_90d",
    "orders_180d", "spend_180d", "days_since_last_order", "last_visit_at",
)


def make(**overrides: Any) -> CustomerFacts:
    birthday = overrides.get("birthday")
    if birthday is not None:
        overrides["birthday_md"] = birthday.month * 100 + birthday.day
    return dataclasses.replace(BASE, **overrides)


def check(rule: dict[str, Any], facts: CustomerFacts, as_of: datetime = AS_OF, tz: str = TZ) -> bool:
    return compile_rule(parse_rule(rule), as_of, tz)(facts)


# ---- the slow, obviously-correct reference evaluator -------------------------------------------------------

NEGATIONS = {"ne": "eq", "not_in": "in", "is_not_set": "is_set", "not_within_days": "within_days"}
CARD_ATTR = {"card_balance": "balance_fen", "card_remaining_count": "remaining_count",
             "card_expires_on": "expires_on", "card_expires_in_days": "expires_on"}
CARD_KIND = {"card_balance": "stored_value", "card_remaining_count": "times"}
SET_FIELDS = ("tags", "reachable_channels")


def decode(name: str, value: Any) -> Any:
    kind = FIELDS[name].type
    if isinstance(value, list):
        return [decode(name, v) for v in value]
    if kind == "datetime" and isinstance(value, str):
        return datetime.fromisoformat(value)
    if kind == "date" and isinstance(value, str):
        return date.fromisoformat(value)
    return value


def ref_rule(rule: dict[str, Any], f: CustomerFacts, as_of: datetime, tz: str) -> bool:
    ((mode, items),) = rule.items()
    results = [ref_condition(i, f, as_of, tz) if "field" in i else ref_rule(i, f, as_of, tz) for i in items]
    return all(results) if mode == "all" else any(results)


def ref_condition(c: dict[str, Any], f: CustomerFacts, as_of: datetime, tz: str) -> bool:
    name, op = c["field"], c["op"]
    if op in NEGATIONS:
        return not ref_condition({**c, "op": NEGATIONS[op]}, f, as_of, tz)
    today = as_of.astimezone(ZoneInfo(tz)).date()
    x = decode(name, c.get("value"))
    if name in CARD_ATTR:
        sel = c.get("card", {})
        kind = CARD_KIND.get(name) or sel.get("kind")
        values = [getattr(card, CARD_ATTR[name]) for card in f.cards
                  if (kind is None or card.kind == kind) and sel.get("card_id") in (None, card.card_id)
                  and ("active" not in sel or sel["active"] == (card.expires_on is None or card.expires_on >= today))]
        if name == "card_expires_in_days":
            values = [None if d is None else (d - today).days for d in values]
        return any(ref_value(v, op, x, as_of) for v in values)
    v = getattr(f, name)
    if op == "birthday_in_days":
        target = today + timedelta(days=x)
        return v is not None and ((v.month, v.day) == (target.month, target.day) or (
            (v.month, v.day) == (2, 29) and (target.month, target.day) == (2, 28) and not isleap(target.year)))
    if op == "birthday_this_month":
        return v is not None and v.month == today.month
    if name in SET_FIELDS:
        if op == "contains":
            return x in v
        return any(t in v for t in x) if op == "in" else len(v) > 0
    return ref_value(v, op, x, as_of)


def ref_value(v: Any, op: str, x: Any, as_of: datetime) -> bool:
    if op == "is_set":
        return v is not None
    if v is None:
        return False
    if op == "within_days":
        return bool(as_of - timedelta(days=x) < v <= as_of)
    if op == "between":
        return bool(x[0] <= v <= x[1])
    if op in ("in", "contains"):
        return bool(v in x if op == "in" else x in v)
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "eq": operator.eq, "gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}
    return compare[op](v, x)


# ---- strategies ---------------------------------------------------------------------------------------------

AS_OFS = [AS_OF, datetime(2027, 2, 28, 1, 0, tzinfo=UTC), datetime(2028, 2, 28, 12, 0, tzinfo=UTC),
          datetime(2026, 12, 31, 16, 30, tzinfo=UTC), datetime(2026, 3, 1, 0, 0, 0, 500_000, tzinfo=UTC)]
TZS = ["Asia/Shanghai", "UTC", "America/New_York"]
OFFSETS = [timedelta(days=-d, seconds=s) for d in (0, 1, 7, 15, 30, 90, 180) for s in (-1, 0, 1)] + [timedelta(days=2)]
TEXTS = ["a", "b", "ab", "ba"]
NUMBERS = [-1, 0, 1, 2, 3]
MONEY = [0, 999, 1000, 1001, 5000]
DAY_OFFSETS = [-2, -1, 0, 1, 2, 7, 30, 365]


def birthdays(today: date) -> list[date]:
    days = [today + timedelta(days=d) for d in DAY_OFFSETS]
    md = {(d.month, d.day) for d in days} | {(2, 28), (2, 29), (3, 1)}
    return [date(y, m, d) for (m, d) in sorted(md) for y in (1990, 1992) if (m, d) != (2, 29) or isleap(y)]


@cache
def pool(name: str, as_of: datetime, today: date) -> tuple[Any, ...]:
    """The few values of a field that sit on every boundary the operators care about."""
    spec = FIELDS[name]
    if spec.days_from_today:
        return tuple(DAY_OFFSETS)
    if spec.type == "date":
        return tuple(birthdays(today) if name == "birthday" else [today + timedelta(days=d) for d in DAY_OFFSETS])
    if spec.type == "datetime":
        return tuple((as_of + o).astimezone(ZoneInfo("Asia/Shanghai")) for o in OFFSETS)
    return tuple({"string": TEXTS, "enum": spec.values, "number": NUMBERS, "money_fen": MONEY,
                  "boolean": [False, True], "string_set": spec.values or ("a", "b", "c")}[spec.type])


def to_json(name: str, value: Any) -> Any:
    return value.isoformat() if FIELDS[name].type in ("date", "datetime") and not FIELDS[name].days_from_today \
        else value


@cache
def scalars(name: str, as_of: datetime, today: date, for_rule: bool) -> st.SearchStrategy[Any]:
    values = pool(name, as_of, today)
    return st.sampled_from([to_json(name, v) for v in values] if for_rule else values)


def card_sets(today: date) -> list[tuple[Card, ...]]:
    def on(days: int) -> date:
        return today + timedelta(days=days)
    return [(), (Card("k1", "stored_value", 999, 0, on(0)),), (Card("k2", "times", 0, 1, on(-1)),),
            (Card("k1", "stored_value", 1000, 0, None), Card("k2", "times", 0, 0, on(7))),
            (Card("k2", "stored_value", 5000, 0, on(2)), Card("k1", "stored_value", 0, 0, on(-2)))]


@cache
def cards(today: date) -> st.SearchStrategy[list[Card]]:
    expiry = st.one_of(st.none(), st.sampled_from([today + timedelta(days=d) for d in DAY_OFFSETS]))
    card = st.builds(Card, st.sampled_from(["k1", "k2"]), st.sampled_from(["stored_value", "times"]),
                     st.sampled_from(MONEY), st.sampled_from([0, 1, 2, 3]), expiry)
    return st.lists(card, max_size=3)


def facts_strategy(as_of: datetime, today: date, names: frozenset[str]) -> st.SearchStrategy[CustomerFacts]:
    """Facts varying in the named fields (the others stay as BASE has them: the rule cannot see them)."""
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for name in names:
        spec = FIELDS[name]
        value = scalars(name, as_of, today, False)
        if spec.card:
            fields["cards"] = cards(today).map(tuple)
        elif spec.type == "string_set":
            fields[name] = st.frozensets(value, max_size=3)
        else:
            fields[name] = st.one_of(st.none(), value) if spec.nullable else value
    return st.fixed_dictionaries(fields).map(lambda overrides: make(**overrides))


def _between(spec_type: str) -> Any:
    return lambda pair: sorted(pair, key=lambda v: datetime.fromisoformat(v) if spec_type == "datetime" else v)


@cache
def condition_for(name: str, op: str, as_of: datetime, today: date) -> st.SearchStrategy[dict[str, Any]]:
    """Conditions on one field with one operator and values from the small pools the facts use."""
    spec = FIELDS[name]
    value = scalars(name, as_of, today, True)
    shape: dict[str, st.SearchStrategy[Any]] = {"field": st.just(name), "op": st.just(op)}
    if op in ("within_days", "not_within_days"):
        shape["value"] = st.sampled_from([1, 7, 15, 30, 90, 180])
    elif op == "birthday_in_days":
        shape["value"] = st.sampled_from([0, 1, 2, 30, 365])
    elif op in ("in", "not_in"):
        shape["value"] = st.lists(value, min_size=1, max_size=3)
    elif op == "between":
        shape["value"] = st.lists(value, min_size=2, max_size=2).map(_between(spec.type))
    elif op not in ("is_set", "is_not_set", "birthday_this_month"):
        shape["value"] = value
    optional: dict[str, st.SearchStrategy[Any]] = {}
    if spec.card:
        optional["card"] = st.fixed_dictionaries({}, optional={
            "kind": st.sampled_from([spec.card_kind] if spec.card_kind else ["stored_value", "times"]),
            "card_id": st.sampled_from(["k1", "k2"]), "active": st.booleans()})
    return st.fixed_dictionaries(shape, optional=optional)


@cache
def condition_strategy(as_of: datetime, today: date) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of([condition_for(name, op, as_of, today) for name in FIELDS for op in FIELDS[name].operators])


def _group(mode: str, items: list[Any]) -> dict[str, Any]:
    return {mode: items}


@cache
def rule_strategy(as_of: datetime, today: date) -> st.SearchStrategy[dict[str, Any]]:
    leaf = condition_strategy(as_of, today)
    modes = st.sampled_from(["all", "any"])
    group = st.builds(_group, modes, st.lists(leaf, min_size=1, max_size=3))
    return st.builds(_group, modes, st.lists(st.one_of(leaf, leaf, group), min_size=1, max_size=4))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_compiled_rules_agree_with_the_reference_evaluator(data: st.DataObject) -> None:
    as_of = data.draw(st.sampled_from(AS_OFS))
    tz = data.draw(st.sampled_from(TZS))
    today = as_of.astimezone(ZoneInfo(tz)).date()
    rule = data.draw(rule_strategy(as_of, today))
    parsed = parse_rule(rule)
    predicate = compile_rule(parsed, as_of, tz)
    for facts in data.draw(st.lists(facts_strategy(as_of, today, rule_fields(parsed)), min_size=1, max_size=4)):
        assert predicate(facts) == ref_rule(rule, facts, as_of, tz), rule


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_every_single_condition_agrees_with_the_reference(data: st.DataObject) -> None:
    as_of = data.draw(st.sampled_from(AS_OFS))
    tz = data.draw(st.sampled_from(TZS))
    today = as_of.astimezone(ZoneInfo(tz)).date()
    cond = data.draw(condition_strategy(as_of, today))
    facts = data.draw(facts_strategy(as_of, today, frozenset({cond["field"]})))
    assert check({"all": [cond]}, facts, as_of, tz) == ref_condition(cond, facts, as_of, tz)


CLOCKS = [(AS_OF, "Asia/Shanghai"), (datetime(2027, 2, 28, 1, 0, tzinfo=UTC), "Asia/Shanghai"),
          (datetime(2028, 2, 28, 12, 0, tzinfo=UTC), "America/New_York"),
          (datetime(2026, 12, 31, 16, 30, tzinfo=UTC), "Asia/Shanghai"),
          (datetime(2026, 3, 1, 0, 0, 0, 500_000, tzinfo=UTC), "UTC")]


def operands(name: str, op: str, as_of: datetime, today: date) -> list[Any]:
    values = [to_json(name, v) for v in pool(name, as_of, today)]
    if op in ("within_days", "not_within_days"):
        return [1, 7, 15, 30, 90, 180]
    if op == "birthday_in_days":
        return [0, 1, 2, 30, 365]
    if op in ("is_set", "is_not_set", "birthday_this_month"):
        return [None]
    if op in ("in", "not_in"):
        return [[v] for v in values] + [values[:2], values[-3:]]
    if op == "between":
        ordered = sorted(pool(name, as_of, today))
        return [[to_json(name, lo), to_json(name, hi)] for i, lo in enumerate(ordered) for hi in ordered[i:]]
    return values


def selectors(name: str) -> list[dict[str, Any] | None]:
    spec = FIELDS[name]
    if not spec.card:
        return [None]
    kinds = [spec.card_kind] if spec.card_kind else ["stored_value", "times"]
    return [None, {"card_id": "k1"}, {"active": True}, {"active": False}, *({"kind": k} for k in kinds)]


def facts_pool(name: str, as_of: datetime, today: date) -> list[CustomerFacts]:
    spec = FIELDS[name]
    if spec.card:
        return [make(cards=c) for c in card_sets(today)]
    if spec.type == "string_set":
        values = pool(name, as_of, today)
        return [make(**{name: frozenset(values[i:j])}) for i in range(3) for j in range(i, 4)]
    return [make(**{name: v}) for v in (*pool(name, as_of, today), *([None] if spec.nullable else []))]


@pytest.mark.parametrize(("as_of", "tz"), CLOCKS)
def test_every_field_operator_and_boundary_value_agrees_with_the_reference(as_of: datetime, tz: str) -> None:
    today = as_of.astimezone(ZoneInfo(tz)).date()
    for name, spec in FIELDS.items():
        population = facts_pool(name, as_of, today)
        for op in spec.operators:
            for value in operands(name, op, as_of, today):
                for selector in selectors(name):
                    condition: dict[str, Any] = {"field": name, "op": op}
                    if value is not None:
                        condition["value"] = value
                    if selector is not None:
                        condition["card"] = selector
                    predicate = compile_rule(parse_rule({"all": [condition]}), as_of, tz)
                    for facts in population:
                        assert predicate(facts) == ref_condition(condition, facts, as_of, tz), (condition, facts)


TRUE = {"field": "orders_30d", "op": "gte", "value": 0}
FALSE = {"field": "orders_30d", "op": "gte", "value": 1}


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
def test_groups_combine_every_truth_pattern_like_all_and_any(size: int) -> None:
    for pattern in itertools.product([False, True], repeat=size):
        conditions = [TRUE if truth else FALSE for truth in pattern]
        assert check({"all": conditions}, BASE) is all(pattern)
        assert check({"any": conditions}, BASE) is any(pattern)
        assert check({"any": [FALSE, {"all": conditions}]}, BASE) is all(pattern)
        assert check({"all": [TRUE, {"any": conditions}]}, BASE) is any(pattern)


# ---- every operator, by example ------------------------------------------------------------------------------

DAY = timedelta(days=1)
EXAMPLES: list[tuple[dict[str, Any], dict[str, Any], bool]] = [
    ({"field": "gender", "op": "eq", "value": "female"}, {"gender": "female"}, True),
    ({"field": "gender", "op": "eq", "value": "female"}, {"gender": None}, False),
    ({"field": "gender", "op": "ne", "value": "female"}, {"gender": None}, True),
    ({"field": "gender", "op": "ne", "value": "female"}, {"gender": "female"}, False),
    ({"field": "region", "op": "in", "value": ["杭州", "上海"]}, {"region": "上海"}, True),
    ({"field": "region", "op": "not_in", "value": ["杭州", "上海"]}, {"region": None}, True),
    ({"field": "region", "op": "not_in", "value": ["杭州", "上海"]}, {"region": "杭州"}, False),
    ({"field": "orders_30d", "op": "gt", "value": 1}, {"orders_30d": 1}, False),
    ({"field": "orders_30d", "op": "gte", "value": 1}, {"orders_30d": 1}, True),
    ({"field": "orders_30d", "op": "lt", "value": 1}, {"orders_30d": 0}, True),
    ({"field": "orders_30d", "op": "lte", "value": 0}, {"orders_30d": 1}, False),
    ({"field": "days_since_last_order", "op": "lt", "value": 5}, {"days_since_last_order": None}, False),
    ({"field": "spend_30d", "op": "between", "value": [100, 200]}, {"spend_30d": 200}, True),
    ({"field": "spend_30d", "op": "between", "value": [100, 200]}, {"spend_30d": 99}, False),
    ({"field": "region", "op": "contains", "value": "杭州"}, {"region": "浙江省杭州市"}, True),
    ({"field": "tags", "op": "contains", "value": "vip"}, {"tags": frozenset({"vip", "x"})}, True),
    ({"field": "tags", "op": "in", "value": ["vip", "new"]}, {"tags": frozenset({"new"})}, True),
    ({"field": "tags", "op": "not_in", "value": ["vip", "new"]}, {"tags": frozenset({"new"})}, False),
    ({"field": "tags", "op": "is_set"}, {"tags": frozenset()}, False),
    ({"field": "tags", "op": "is_not_set"}, {"tags": frozenset()}, True),
    ({"field": "staff_owner", "op": "is_set"}, {"staff_owner": "s1"}, True),
    ({"field": "staff_owner", "op": "is_not_set", "value": None}, {"staff_owner": None}, True),
    ({"field": "last_order_at", "op": "within_days", "value": 30}, {"last_order_at": AS_OF - 30 * DAY}, False),
    ({"field": "last_order_at", "op": "within_days", "value": 30},
     {"last_order_at": AS_OF - 30 * DAY + timedelta(seconds=1)}, True),
    ({"field": "last_order_at", "op": "within_days", "value": 30}, {"last_order_at": AS_OF + DAY}, False),
    ({"field": "last_order_at", "op": "not_within_days", "value": 30}, {"last_order_at": AS_OF - 30 * DAY}, True),
    ({"field": "last_order_at", "op": "not_within_days", "value": 30}, {"last_order_at": None}, True),
    ({"field": "registered_at", "op": "gte", "value": "2026-11-01T00:00:00+08:00"},
     {"registered_at": datetime(2026, 10, 31, 16, 0, tzinfo=UTC)}, True),
    ({"field": "birthday", "op": "birthday_in_days", "value": 0}, {"birthday": date(1990, 11, 23)}, True),
    ({"field": "birthday", "op": "birthday_in_days", "value": 1}, {"birthday": date(1990, 11, 24)}, True),
    ({"field": "birthday", "op": "birthday_in_days", "value": 1}, {"birthday": date(1990, 11, 23)}, False),
    ({"field": "birthday", "op": "birthday_this_month"}, {"birthday": date(2001, 11, 30)}, True),
    ({"field": "birthday", "op": "birthday_this_month"}, {"birthday": None}, False),
    ({"field": "birthday", "op": "lt", "value": "2000-01-01"}, {"birthday": date(1999, 12, 31)}, True),
    ({"field": "is_follower", "op": "eq", "value": True}, {"is_follower": True}, True),
    ({"field": "phone_bound", "op": "ne", "value": True}, {"phone_bound": False}, True),
    ({"field": "reachable_channels", "op": "contains", "value": "sms"}, {"reachable_channels": frozenset()}, False),
]


@pytest.mark.parametrize(("condition", "overrides", "expected"), EXAMPLES)
def test_each_operator_matches_its_documented_meaning(condition: dict[str, Any], overrides: dict[str, Any],
                                                      expected: bool) -> None:
    facts = make(**overrides)
    assert check({"all": [condition]}, facts) is expected
    assert ref_condition(condition, facts, AS_OF, TZ) is expected


def test_examples_cover_every_operator() -> None:
    assert {c["op"] for c, _, _ in EXAMPLES} == set(OPERATORS)


STORED = Card("sv", "stored_value", balance_fen=3000, expires_on=date(2026, 11, 30))
TIMES = Card("tc", "times", remaining_count=1, expires_on=date(2026, 11, 20))


@pytest.mark.parametrize(("condition", "expected"), [
    ({"field": "card_balance", "op": "lt", "value": 5000}, True),
    ({"field": "card_balance", "op": "lt", "value": 5000, "card": {"kind": "stored_value"}}, True),
    ({"field": "card_balance", "op": "lt", "value": 5000, "card": {"active": False}}, False),
    ({"field": "card_balance", "op": "ne", "value": 3000}, False),
    ({"field": "card_remaining_count", "op": "lte", "value": 1}, True),
    ({"field": "card_remaining_count", "op": "lte", "value": 1, "card": {"card_id": "other"}}, False),
    ({"field": "card_expires_on", "op": "lt", "value": "2026-11-23", "card": {"kind": "times"}}, True),
    ({"field": "card_expires_on", "op": "lt", "value": "2026-11-23", "card": {"kind": "stored_value"}}, False),
    ({"field": "card_expires_in_days", "op": "between", "value": [0, 7]}, True),
    ({"field": "card_expires_in_days", "op": "between", "value": [0, 7], "card": {"kind": "times"}}, False),
    ({"field": "card_expires_in_days", "op": "eq", "value": -3}, True),
    ({"field": "card_expires_on", "op": "is_not_set"}, False),
])
def test_card_conditions_match_when_any_selected_card_does(condition: dict[str, Any], expected: bool) -> None:
    facts = make(cards=(STORED, TIMES))
    assert check({"all": [condition]}, facts) is expected
    assert ref_condition(condition, facts, AS_OF, TZ) is expected


@pytest.mark.parametrize(("birthday", "as_of_local", "days", "expected"), [
    (date(2000, 2, 29), datetime(2027, 2, 28, 9, 0), 0, True),   # common year: celebrated on 28 Feb
    (date(2000, 2, 29), datetime(2028, 2, 28, 9, 0), 0, False),  # leap year: it is tomorrow
    (date(2000, 2, 29), datetime(2028, 2, 28, 9, 0), 1, True),
    (date(2000, 2, 29), datetime(2027, 2, 27, 9, 0), 1, True),
    (date(2000, 2, 28), datetime(2027, 2, 27, 9, 0), 1, True),
    (date(2000, 3, 1), datetime(2027, 2, 28, 9, 0), 1, True),
    (date(1990, 1, 1), datetime(2026, 12, 31, 23, 30), 1, True),  # across the year end, local time
    (date(1990, 12, 31), datetime(2026, 12, 31, 23, 30), 0, True),
])
def test_birthday_in_days_handles_feb_29_and_local_dates(birthday: date, as_of_local: datetime, days: int,
                                                         expected: bool) -> None:
    as_of = as_of_local.replace(tzinfo=ZoneInfo(TZ))
    rule = {"all": [{"field": "birthday", "op": "birthday_in_days", "value": days}]}
    assert check(rule, make(birthday=birthday), as_of) is expected


# ---- validation ------------------------------------------------------------------------------------------------

def cond(**kw: Any) -> dict[str, Any]:
    return {"field": "orders_30d", "op": "gte", "value": 1, **kw}


INVALID: list[tuple[Any, str]] = [
    (None, "rule"),
    ([], "rule"),
    ({"all": [cond()], "any": [cond()]}, "rule"),
    ({"none": [cond()]}, "rule"),
    ({"all": "x"}, "rule.all"),
    ({"all": []}, "rule.all"),
    ({"all": [cond(field="nope")]}, "rule.all[0].field"),
    ({"all": [cond(field=3)]}, "rule.all[0].field"),
    ({"all": [cond(op="like")]}, "rule.all[0].op"),
    ({"all": [{"field": "gender", "op": "gt", "value": "male"}]}, "rule.all[0].op"),
    ({"all": [cond(value="3")]}, "rule.all[0].value"),
    ({"all": [cond(value=True)]}, "rule.all[0].value"),
    ({"all": [cond(value=1.5)]}, "rule.all[0].value"),
    ({"all": [{"field": "orders_30d", "op": "gte"}]}, "rule.all[0].value"),
    ({"all": [cond(), {"any": [cond(), cond(value="x")]}]}, "rule.all[1].any[1].value"),
    ({"all": [{"any": [{"all": [cond()]}]}]}, "rule.all[0].any[0]"),
    ({"any": [cond(), {"all": []}]}, "rule.any[1].all"),
    ({"all": [cond()] * (MAX_CONDITIONS + 1)}, "rule.all"),
    ({"all": [{"any": [cond()] * 30}, {"any": [cond()] * 21}]}, "rule"),
    ({"all": [{"field": "region", "op": "in", "value": ["a", 3]}]}, "rule.all[0].value[1]"),
    ({"all": [{"field": "region", "op": "in", "value": []}]}, "rule.all[0].value"),
    ({"all": [{"field": "spend_30d", "op": "between", "value": [200, 100]}]}, "rule.all[0].value"),
    ({"all": [{"field": "spend_30d", "op": "between", "value": [100]}]}, "rule.all[0].value"),
    ({"all": [{"field": "staff_owner", "op": "is_set", "value": "x"}]}, "rule.all[0].value"),
    ({"all": [{"field": "gender", "op": "eq", "value": "other"}]}, "rule.all[0].value"),
    ({"all": [{"field": "last_order_at", "op": "within_days", "value": 0}]}, "rule.all[0].value"),
    ({"all": [{"field": "birthday", "op": "birthday_in_days", "value": 366}]}, "rule.all[0].value"),
    ({"all": [{"field": "registered_at", "op": "gt", "value": "2026-01-01T00:00:00"}]}, "rule.all[0].value"),
    ({"all": [{"field": "birthday", "op": "lt", "value": "2026/01/01"}]}, "rule.all[0].value"),
    ({"all": [cond(card={"kind": "times"})]}, "rule.all[0].card"),
    ({"all": [{"field": "card_balance", "op": "lt", "value": 1, "card": {"kind": "times"}}]}, "rule.all[0].card.kind"),
    ({"all": [{"field": "card_balance", "op": "lt", "value": 1, "card": {"color": "x"}}]}, "rule.all[0].card.color"),
    ({"all": [{"field": "card_expires_on", "op": "lt", "value": "2026-01-01", "card": {"active": "yes"}}]},
     "rule.all[0].card.active"),
    ({"all": [cond(extra=1)]}, "rule.all[0].extra"),
    ({"all": ["orders_30d >= 1"]}, "rule.all[0]"),
]


@pytest.mark.parametrize(("rule", "path"), INVALID)
def test_invalid_rules_name_the_exact_path(rule: Any, path: str) -> None:
    with pytest.raises(RuleError) as caught:
        parse_rule(rule)
    assert caught.value.path == path
    assert isinstance(caught.value, Invalid) and caught.value.field == path and caught.value.reason


def test_fifty_conditions_are_allowed() -> None:
    assert len(parse_rule({"all": [{"any": [cond()] * 25}, {"any": [cond()] * 25}]}).items) == 2


def test_rule_fields_lists_what_a_rule_reads() -> None:
    rule = parse_rule({"any": [cond(), {"all": [{"field": "tags", "op": "is_set"}]}]})
    assert rule_fields(rule) == {"orders_30d", "tags"}


def test_catalogue_has_core_fields_with_known_operators_and_facts_attributes() -> None:
    names = {entry["name"] for entry in catalogue()}
    assert set(CORE_FIELDS) <= names
    slots = {f.name for f in dataclasses.fields(CustomerFacts)}
    for spec in FIELDS.values():
        assert set(spec.operators) <= set(OPERATORS) and spec.operators
        assert spec.card or spec.attr in slots
    assert {op for spec in FIELDS.values() for op in spec.operators} == set(OPERATORS)
    assert FIELDS["gender"].to_json()["values"] == list(GENDERS)
    assert FIELDS["reachable_channels"].values == CHANNELS
