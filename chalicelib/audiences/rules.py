"""Audience rules: parse and validate the JSON rule language, compile it into a fast predicate over facts."""

from __future__ import annotations

from calendar import isleap, monthrange
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter
from typing import Any, Literal
from zoneinfo import ZoneInfo

from chalicelib.audiences.fields import FIELDS, OPERATORS, FieldSpec, Scalar
from chalicelib.core.errors import Invalid
from chalicelib.customers.model import CARD_KINDS, Card, CardKind, CustomerFacts

MAX_CONDITIONS = 50
MAX_LIST = 500
MAX_DAYS = 3650
MAX_BIRTHDAY_DAYS = 365
Predicate = Callable[[CustomerFacts], bool]
_NO_VALUE = ("is_set", "is_not_set", "birthday_this_month")
_CONDITION_KEYS = ("field", "op", "value", "card")
_CARD_NEGATED = {"ne": "eq", "not_in": "in", "is_not_set": "is_set"}


class RuleError(Invalid):
    """An invalid rule; `path` names the offending part, e.g. rule.all[1].any[0].value."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason=reason, field=path)

    @property
    def path(self) -> str:
        """Where in the rule the problem is."""
        return self.field or "rule"


@dataclass(frozen=True, slots=True)
class CardSelector:
    """Which cards a card condition looks at; `active` means not expired as of today."""

    kind: CardKind | None = None
    card_id: str | None = None
    active: bool | None = None


@dataclass(frozen=True, slots=True)
class Condition:
    """One validated condition; `value` is a scalar, a (low, high) pair, a frozenset or a day count."""

    field: str
    op: str
    value: Any = None
    card: CardSelector | None = None


@dataclass(frozen=True, slots=True)
class Group:
    """All-of or any-of; items are conditions or (at the top level only) one more level of groups."""

    mode: Literal["all", "any"]
    items: tuple[Condition | Group, ...]


def parse_rule(raw: object, path: str = "rule") -> Group:
    """Validate rule JSON into a Group; RuleError names the exact path of the first problem."""
    group = _parse_group(raw, path, nested=False)
    count = sum(len(i.items) if isinstance(i, Group) else 1 for i in group.items)
    if count > MAX_CONDITIONS:
        raise RuleError(path, f"at most {MAX_CONDITIONS} conditions, got {count}")
    return group


def rule_fields(rule: Group) -> frozenset[str]:
    """The fields a rule reads."""
    return frozenset(f for i in rule.items for f in (rule_fields(i) if isinstance(i, Group) else (i.field,)))


def _parse_group(raw: object, path: str, nested: bool) -> Group:
    if not isinstance(raw, dict) or len(raw) != 1 or not ({"all", "any"} & raw.keys()):
        raise RuleError(path, 'must be an object with exactly one key, "all" or "any"')
    mode: Literal["all", "any"] = "all" if "all" in raw else "any"
    items, here = raw[mode], f"{path}.{mode}"
    if not isinstance(items, list):
        raise RuleError(here, "must be a list of conditions")
    if not items:
        raise RuleError(here, "must not be empty")
    if len(items) > MAX_CONDITIONS:
        raise RuleError(here, f"at most {MAX_CONDITIONS} conditions, got {len(items)}")
    parsed: list[Condition | Group] = []
    for index, item in enumerate(items):
        at = f"{here}[{index}]"
        if isinstance(item, dict) and ("all" in item or "any" in item):
            if nested:
                raise RuleError(at, "groups nest one level deep at most")
            parsed.append(_parse_group(item, at, nested=True))
        else:
            parsed.append(_parse_condition(item, at))
    return Group(mode, tuple(parsed))


def _parse_condition(raw: object, path: str) -> Condition:
    if not isinstance(raw, dict):
        raise RuleError(path, 'must be a condition {"field", "op", "value"} or an "all"/"any" group')
    for key in raw:
        if key not in _CONDITION_KEYS:
            raise RuleError(f"{path}.{key}", "unknown key; a condition has field, op, value and card")
    name = raw.get("field")
    if not isinstance(name, str) or name not in FIELDS:
        raise RuleError(f"{path}.field", "unknown field; GET /v1/audience-fields lists them")
    spec = FIELDS[name]
    op = raw.get("op")
    if not isinstance(op, str) or op not in OPERATORS:
        raise RuleError(f"{path}.op", f"unknown operator; one of {' '.join(OPERATORS)}")
    if op not in spec.operators:
        raise RuleError(f"{path}.op", f"{op} does not apply to {name}; allowed: {' '.join(spec.operators)}")
    value = _parse_value(spec, op, raw.get("value"), f"{path}.value")
    card = _parse_card(spec, raw["card"], f"{path}.card") if "card" in raw else None
    return Condition(name, op, value, card)


def _parse_value(spec: FieldSpec, op: str, raw: object, path: str) -> Any:
    if op in _NO_VALUE:
        if raw is not None:
            raise RuleError(path, f"{op} takes no value")
        return None
    if op in ("within_days", "not_within_days", "birthday_in_days"):
        low, high = (0, MAX_BIRTHDAY_DAYS) if op == "birthday_in_days" else (1, MAX_DAYS)
        if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
            raise RuleError(path, f"must be a whole number of days from {low} to {high}")
        return raw
    if op in ("in", "not_in"):
        if not isinstance(raw, list) or not raw or len(raw) > MAX_LIST:
            raise RuleError(path, f"must be a non-empty list of at most {MAX_LIST} values")
        return frozenset(_parse_scalar(spec, v, f"{path}[{i}]") for i, v in enumerate(raw))
    if op == "between":
        if not isinstance(raw, list) or len(raw) != 2:
            raise RuleError(path, "must be a list [low, high]")
        low_value: Any = _parse_scalar(spec, raw[0], f"{path}[0]")
        high_value: Any = _parse_scalar(spec, raw[1], f"{path}[1]")
        if low_value > high_value:
            raise RuleError(path, "low must not be above high")
        return (low_value, high_value)
    if raw is None:
        raise RuleError(path, f"{op} needs a value")
    return _parse_scalar(spec, raw, path)


def _parse_scalar(spec: FieldSpec, raw: object, path: str) -> Scalar:
    try:
        return spec.parse(raw)
    except ValueError as exc:
        raise RuleError(path, str(exc)) from None


def _parse_card(spec: FieldSpec, raw: object, path: str) -> CardSelector:
    if not spec.card:
        raise RuleError(path, f"{spec.name} is not a card field; only card_* fields take a card selector")
    if not isinstance(raw, dict):
        raise RuleError(path, "must be an object with kind, card_id and/or active")
    for key in raw:
        if key not in ("kind", "card_id", "active"):
            raise RuleError(f"{path}.{key}", "unknown key; a card selector has kind, card_id and active")
    kind, card_id, active = raw.get("kind"), raw.get("card_id"), raw.get("active")
    if kind is not None and kind not in CARD_KINDS:
        raise RuleError(f"{path}.kind", f"must be one of {', '.join(CARD_KINDS)}")
    if kind is not None and spec.card_kind is not None and kind != spec.card_kind:
        raise RuleError(f"{path}.kind", f"{spec.name} reads {spec.card_kind} cards only")
    if card_id is not None and (not isinstance(card_id, str) or not card_id):
        raise RuleError(f"{path}.card_id", "must be a non-empty string")
    if active is not None and not isinstance(active, bool):
        raise RuleError(f"{path}.active", "must be true or false")
    return CardSelector(kind, card_id, active)


def compile_rule(rule: Group, as_of: datetime, tz: str) -> Predicate:
    """Bind a validated rule to an instant and zone: thresholds are computed here, once, not per customer."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    return _compile_group(rule, as_of.astimezone(UTC), as_of.astimezone(ZoneInfo(tz)).date())


def _compile_group(group: Group, as_of: datetime, today: date) -> Predicate:
    preds = [_compile_group(i, as_of, today) if isinstance(i, Group) else _compile_condition(i, as_of, today)
             for i in group.items]
    if len(preds) == 1:
        return preds[0]
    if group.mode == "all":
        if len(preds) == 2:
            a, b = preds
            return lambda f: a(f) and b(f)
        if len(preds) == 3:
            a, b, c = preds
            return lambda f: a(f) and b(f) and c(f)

        def every(f: CustomerFacts) -> bool:
            for pred in preds:  # noqa: SIM110 - a plain loop beats all(<generator>) on this hot path
                if not pred(f):
                    return False
            return True
        return every
    if len(preds) == 2:
        a, b = preds
        return lambda f: a(f) or b(f)
    if len(preds) == 3:
        a, b, c = preds
        return lambda f: a(f) or b(f) or c(f)

    def some(f: CustomerFacts) -> bool:
        for pred in preds:  # noqa: SIM110 - a plain loop beats any(<generator>) on this hot path
            if pred(f):
                return True
        return False
    return some


def birthday_keys(target: date) -> frozenset[int]:
    """month*100+day keys of birthdays celebrated on `target`; 29 Feb ones on 28 Feb of common years."""
    keys = {target.month * 100 + target.day}
    if target.month == 2 and target.day == 28 and not isleap(target.year):
        keys.add(229)
    return frozenset(keys)


def _resolve(spec: FieldSpec, cond: Condition, as_of: datetime, today: date) -> tuple[str, Any]:
    """The operator and operand as evaluated at as_of: relative values become absolute ones."""
    op, value = cond.op, cond.value
    if op in ("within_days", "not_within_days"):
        return ("window" if op == "within_days" else "not_window"), (as_of - timedelta(days=value), as_of)
    if op == "birthday_in_days":
        return "in", birthday_keys(today + timedelta(days=value))
    if op == "birthday_this_month":
        return "in", frozenset(today.month * 100 + d for d in range(1, monthrange(2000, today.month)[1] + 1))
    shift: Callable[[Any], Any] | None = None
    if spec.days_from_today:
        shift = lambda n: today + timedelta(days=n)  # noqa: E731
    elif spec.type == "datetime":
        shift = lambda t: t.astimezone(UTC)  # noqa: E731
    if shift is None or value is None:
        return op, value
    if isinstance(value, frozenset):
        return op, frozenset(shift(v) for v in value)
    if isinstance(value, tuple):
        return op, (shift(value[0]), shift(value[1]))
    return op, shift(value)


def _compile_condition(cond: Condition, as_of: datetime, today: date) -> Predicate:
    spec = FIELDS[cond.field]
    op, x = _resolve(spec, cond, as_of, today)
    if spec.card:
        return _card_predicate(spec, cond.card, op, x, today)
    get = attrgetter("birthday_md" if cond.op.startswith("birthday_") else spec.attr)
    if spec.type == "string_set":
        return _set_test(get, op, x)
    return _value_test(get, op, x)


def _set_test(get: Callable[[Any], Any], op: str, x: Any) -> Callable[[Any], bool]:
    if op == "contains":
        return lambda o: x in get(o)
    if op == "in":
        return lambda o: not x.isdisjoint(get(o))
    if op == "not_in":
        return lambda o: x.isdisjoint(get(o))
    if op == "is_set":
        return lambda o: bool(get(o))
    return lambda o: not get(o)


def _value_test(get: Callable[[Any], Any], op: str, x: Any) -> Callable[[Any], bool]:
    """A test of one attribute; a missing (None) value fails every operator but ne, not_in, is_not_set and
    not_within_days, which are exact negations of eq, in, is_set and within_days."""
    if op == "eq":
        return lambda o: get(o) == x
    if op == "ne":
        return lambda o: get(o) != x
    if op == "in":
        return lambda o: get(o) in x
    if op == "not_in":
        return lambda o: get(o) not in x
    if op == "is_set":
        return lambda o: get(o) is not None
    if op == "is_not_set":
        return lambda o: get(o) is None
    if op == "gt":
        return lambda o: (v := get(o)) is not None and v > x
    if op == "gte":
        return lambda o: (v := get(o)) is not None and v >= x
    if op == "lt":
        return lambda o: (v := get(o)) is not None and v < x
    if op == "lte":
        return lambda o: (v := get(o)) is not None and v <= x
    if op == "contains":
        return lambda o: (v := get(o)) is not None and x in v
    low, high = x
    if op == "between":
        return lambda o: (v := get(o)) is not None and low <= v <= high
    if op == "window":
        return lambda o: (v := get(o)) is not None and low < v <= high
    if op == "not_window":
        return lambda o: (v := get(o)) is None or not low < v <= high
    raise AssertionError(f"unhandled operator {op}")


def _card_predicate(spec: FieldSpec, selector: CardSelector | None, op: str, x: Any, today: date) -> Predicate:
    """ANY selected card passes the test; a negative operator holds when NO selected card passes its positive."""
    test = _value_test(attrgetter(spec.attr), _CARD_NEGATED.get(op, op), x)
    sel = selector or CardSelector()
    kind = spec.card_kind or sel.kind

    def selected(card: Card) -> bool:
        return ((kind is None or card.kind == kind) and (sel.card_id is None or card.card_id == sel.card_id)
                and (sel.active is None or sel.active == (card.expires_on is None or card.expires_on >= today)))

    if op in _CARD_NEGATED:
        return lambda f: not any(test(c) for c in f.cards if selected(c))
    return lambda f: any(test(c) for c in f.cards if selected(c))
