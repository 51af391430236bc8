"""The served OpenAPI document types every rule as the Rule schema (issue 18 item 16)."""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator

from chalicelib.audiences.rule_schema import EXAMPLES


def test_openapi_types_every_rule_with_the_rule_schema(api: Any) -> None:
    document = api.get("/v1/openapi.json").json
    schemas = document["components"]["schemas"]
    for model in ("AudienceIn", "AudiencePatch", "AudienceOut", "EstimateIn", "RuleTarget"):
        rule = schemas[model]["properties"]["rule"]
        assert "#/components/schemas/Rule" in json.dumps(rule), (model, rule)
    # no body documents a rule as an untyped object any more
    untyped = [name for name, schema in schemas.items() for prop, sub in (schema.get("properties") or {}).items()
               if prop == "rule" and "#/components/schemas/Rule" not in json.dumps(sub)]
    assert untyped == []
    validator = Draft202012Validator({"$ref": "#/components/schemas/Rule", "components": document["components"]})
    assert schemas["Rule"]["examples"] == EXAMPLES and all(validator.is_valid(e) for e in EXAMPLES)
    assert not validator.is_valid({"all": [{"field": "orders_30d", "op": "birthday_in_days", "value": 1}]})
