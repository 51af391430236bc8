"""The rule language as JSON Schema, built from the field catalogue, for the OpenAPI document (pure)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import WithJsonSchema

from chalicelib.audiences.fields import FIELDS, MAX_NUMBER, MAX_TEXT, FieldSpec
from chalicelib.audiences.rules import MAX_BIRTHDAY_DAYS, MAX_CONDITIONS, MAX_DAYS, MAX_LIST
from chalicelib.customers.model import CARD_KINDS

COMPONENTS = "#/components/schemas/"
RULE, GROUP, CONDITION, CARD = "Rule", "RuleGroup", "RuleCondition", "RuleCardSelector"
_SCALAR_OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "contains")
_NO_VALUE = ("is_set", "is_not_set", "birthday_this_month")
_LIST_OPS = ("in", "not_in")
_WINDOW_OPS = ("within_days", "not_within_days")

EXAMPLES: list[dict[str, Any]] = [
    {"all": [{"field": "orders_180d", "op": "gte", "value": 2}, {"field": "city_tier", "op": "in", "value": [1, 2]}]},
    {"any": [{"field": "last_order_at", "op": "not_within_days", "value": 90},
             {"all": [{"field": "gender", "op": "eq", "value": "female"},
                      {"field": "birthday", "op": "birthday_in_days", "value": 7}]}]},
    {"all": [{"field": "card_remaining_count", "op": "between", "value": [1, 2],
              "card": {"kind": "times", "active": True}},
             {"field": "spend_90d", "op": "gte", "value": 10000}]},
]

GUIDE = (
    'A rule is one group: {"all": [...]} (every item matches) or {"any": [...]} (at least one does). Items are '
    "conditions or, at the top level only, one more group (groups nest one level deep). At most "
    f"{MAX_CONDITIONS} conditions in all. A condition is {{field, op, value}} (plus card for card_* fields); "
    "GET /v1/audience-fields lists every field with its type and operators. The value by operator: eq ne gt gte lt "
    f"lte contains take one value of the field's type; in / not_in a list of 1-{MAX_LIST}; between [low, high] "
    f"(inclusive, low <= high); within_days / not_within_days a whole number of days 1-{MAX_DAYS} back from now; "
    f"birthday_in_days a day count 0-{MAX_BIRTHDAY_DAYS} from today (0 = today); is_set, is_not_set and "
    "birthday_this_month take none. Types: number and money_fen are integers (money in fen), date is YYYY-MM-DD, "
    "datetime an ISO-8601 instant with its offset; days and months are the merchant's local calendar (settings."
    "timezone), windows of N days end today. Weekdays, wherever the API takes them (a weekly schedule's weekdays), "
    "are ISO 8601: 1 = Monday ... 7 = Sunday. Every metric is read as of the evaluation instant."
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": COMPONENTS + name}


def _scalar(spec: FieldSpec) -> dict[str, Any]:
    kind = "number" if spec.days_from_today else spec.type
    if kind in ("number", "money_fen"):
        return {"type": "integer", "minimum": -MAX_NUMBER, "maximum": MAX_NUMBER}
    if kind == "boolean":
        return {"type": "boolean"}
    if kind == "date":
        return {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"}
    if kind == "datetime":
        return {"type": "string", "format": "date-time"}
    text: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": MAX_TEXT}
    if spec.values:
        text["enum"] = list(spec.values)
    return text


def _values(spec: FieldSpec) -> list[dict[str, Any]]:
    """The value shapes the field's operators take (which operator takes which: GUIDE)."""
    ops, one = spec.operators, _scalar(spec)
    shapes: list[dict[str, Any]] = []
    if any(op in ops for op in _SCALAR_OPS):
        shapes.append(one)
    if any(op in ops for op in _LIST_OPS):
        shapes.append({"type": "array", "items": one, "minItems": 1, "maxItems": MAX_LIST})
    if "between" in ops:
        shapes.append({"type": "array", "items": one, "minItems": 2, "maxItems": 2,
                       "description": "between: [low, high]"})
    if any(op in ops for op in _WINDOW_OPS):
        shapes.append({"type": "integer", "minimum": 1, "maximum": MAX_DAYS, "description": "days back from now"})
    if "birthday_in_days" in ops:
        shapes.append({"type": "integer", "minimum": 0, "maximum": MAX_BIRTHDAY_DAYS,
                       "description": "days from today"})
    if any(op in ops for op in _NO_VALUE):
        shapes.append({"type": "null"})
    return shapes


def _condition(spec: FieldSpec) -> dict[str, Any]:
    properties: dict[str, Any] = {"field": {"const": spec.name}, "op": {"enum": list(spec.operators)},
                                  "value": {"anyOf": _values(spec)}}
    if spec.card:
        properties["card"] = _ref(CARD)
    return {"type": "object", "title": spec.name, "description": f"{spec.label}: {spec.description}",
            "required": ["field", "op"], "properties": properties, "additionalProperties": False}


def rule_components() -> dict[str, dict[str, Any]]:
    """The schemas the document's components gain: Rule, RuleGroup, RuleCondition, RuleCardSelector."""
    conditions = [_condition(spec) for spec in FIELDS.values()]

    def group(items: dict[str, Any], description: str) -> dict[str, Any]:
        return {"description": description, "oneOf": [
            {"type": "object", "required": [mode], "additionalProperties": False,
             "properties": {mode: {"type": "array", "minItems": 1, "maxItems": MAX_CONDITIONS, "items": items}}}
            for mode in ("all", "any")]}

    return {
        RULE: {**group({"anyOf": [_ref(CONDITION), _ref(GROUP)]}, GUIDE), "examples": EXAMPLES},
        GROUP: group(_ref(CONDITION), "a nested group: all / any of conditions only (no deeper groups)"),
        CONDITION: {"description": "one condition: field, op, value (and card for card_* fields)",
                    "oneOf": conditions},
        CARD: {"type": "object", "additionalProperties": False,
               "description": "which of the customer's cards a card_* condition looks at; it matches when any "
                              "selected card does (not_in / ne / is_not_set: when none does)",
               "properties": {"kind": {"enum": list(CARD_KINDS)}, "card_id": {"type": "string", "minLength": 1},
                              "active": {"type": "boolean", "description": "true: not expired as of today"}}},
    }


# A rule in a request or response body: stored as the JSON given (rules.parse_rule validates it, naming the path),
# documented as the Rule schema.
# (Inside allOf: pydantic resolves a bare $ref it did not make itself when the field adds a description.)
RuleJson = Annotated[dict[str, Any], WithJsonSchema({"allOf": [_ref(RULE)]})]
