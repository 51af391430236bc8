"""The rule language is in the OpenAPI document as a schema with examples, equal to what parse_rule accepts
(issue 18 item 16)."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from chalicelib.audiences.fields import FIELDS, FieldSpec
from chalicelib.audiences.rule_schema import EXAMPLES, GUIDE, rule_components
from chalicelib.audiences.rules import RuleError, parse_rule

COMPONENTS = rule_components()
VALIDATOR = Draft202012Validator({"$ref": "#/components/schemas/Rule", "components": {"schemas": COMPONENTS}})


def _documented(rule: object) -> bool:
    return VALIDATOR.is_valid(rule)


def _sample(spec: FieldSpec) -> object:
    kind = "number" if spec.days_from_today else spec.type
    return {"number": 3, "money_fen": 1000, "boolean": True, "date": "2026-01-02",
            "datetime": "2026-01-02T03:04:05+08:00"}.get(kind, spec.values[0] if spec.values else "x")


def _value(spec: FieldSpec, op: str) -> object:
    one = _sample(spec)
    return {"in": [one], "not_in": [one], "between": [one, one], "within_days": 30, "not_within_days": 30,
            "birthday_in_days": 7}.get(op, one)


def test_rule_schema_has_the_guide_and_examples() -> None:
    assert COMPONENTS["Rule"]["examples"] == EXAMPLES and COMPONENTS["Rule"]["description"] == GUIDE
    assert "1 = Monday" in GUIDE and "nest one level" in GUIDE


@pytest.mark.parametrize("example", EXAMPLES)
def test_rule_schema_examples_are_valid_rules(example: dict[str, Any]) -> None:
    parse_rule(example)
    assert _documented(example)


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_rule_schema_documents_every_field_with_each_of_its_operators(name: str) -> None:
    spec = FIELDS[name]
    for op in spec.operators:
        condition: dict[str, Any] = {"field": name, "op": op}
        if op not in ("is_set", "is_not_set", "birthday_this_month"):
            condition["value"] = _value(spec, op)
        if spec.card:
            condition["card"] = {"active": True}
        rule = {"all": [condition]}
        parse_rule(rule)  # the sample is a real rule ...
        assert _documented(rule), rule  # ... and the document says so
    other = next(op for op in ("contains", "between", "birthday_in_days", "eq") if op not in spec.operators)
    assert not _documented({"all": [{"field": name, "op": other, "value": _sample(spec)}]})


@pytest.mark.parametrize("rule", [
    {"all": []},
    {"all": [{"field": "no_such_field", "op": "eq", "value": 1}]},
    {"all": [{"field": "orders_30d", "op": "gte", "value": "three"}]},
    {"all": [{"field": "orders_30d", "op": "gte", "value": 1, "colour": "red"}]},
    {"all": [{"any": [{"all": [{"field": "orders_30d", "op": "gte", "value": 1}]}]}]},
    {"all": [{"field": "gender", "op": "eq", "value": "robot"}]},
    {"all": [{"field": "orders_30d", "op": "gte", "value": 1, "card": {"active": True}}]},
    {"all": [{"field": "orders_30d", "op": "gte", "value": 1}], "any": [{"field": "orders_30d", "op": "gte",
                                                                          "value": 1}]},
])
def test_rule_schema_refuses_what_parse_rule_refuses(rule: dict[str, Any]) -> None:
    with pytest.raises(RuleError):
        parse_rule(rule)
    assert not _documented(rule)
