"""Regressions for defects the fuzzer and the tenant sweep found: each input once answered 500 or off-contract."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote


def forge(value: Any) -> str:
    """A cursor as a client could edit one: the same encoding as core.paging, any content."""
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def paged_routes(api: Any, ids: dict[str, str]) -> list[str]:
    """Every GET in the OpenAPI document that takes ?cursor=, with its path parameters filled."""
    document = api.get("/v1/openapi.json").json
    out = []
    for path, ops in document["paths"].items():
        params = {p["name"] for p in ops.get("get", {}).get("parameters", []) if p["in"] == "query"}
        if "cursor" in params:
            for name, value in ids.items():
                path = path.replace(f"{{{name}}}", value)
            out.append(path)
    return out


def test_edited_cursor_is_a_400_naming_the_cursor_when_its_key_is_malformed(api: Any, merchant: Any) -> None:
    token, m = merchant.token, merchant.id
    assert api.post("/v1/customers/batch", {"items": [{"customer_id": "c1"}]}, token=token).status == 200
    audience = api.post("/v1/audiences", {"kind": "list", "name": "l", "customer_ids": ["c1"]}, token=token).json
    campaign = api.post("/v1/campaigns", {"name": "x", "target": {"kind": "customers", "customer_ids": ["c1"]},
                                          "action": {"channel": "webhook"}, "schedule": {"kind": "once"}},
                        token=token).json
    ids = {"customer_id": "c1", "audience_id": audience["audience_id"], "campaign_id": campaign["campaign_id"]}
    routes = paged_routes(api, ids)
    assert len(routes) >= 10 and all("{" not in r for r in routes), routes
    forged = [{"pk": m}, {"pk": m, "sk": 5}, {"pk": {"S": m}, "sk": {"N": "x"}}, {"pk": {"S": m}, "sk": None},
              {"pk": m, "sk": "x", "gsi1pk": m, "gsi1sk": "y"}, {"pk": {"S": m}, "sk": {"S": "x"}, "gsi1pk": m},
              {"pk": {"S": m}, "sk": {"S": "x"}, "gsi1pk": {"S": m}}, {"pk": {"S": m}, "sk": {"S": ""}},
              {"pk": {"S": m}, "sk": {"S": "x"}, "gsi1pk": {"S": m}, "gsi1sk": {"S": "y"}, "gsi2pk": {"S": m},
               "gsi2sk": {"S": "y"}},
              {"pk": {"S": m}, "sk": {"S": "x", "N": "1"}}, {"pk": f"{m}#00", "aud": "x", "after": 5, "as_of": "x"}]
    for route in routes:
        for value in forged:
            r = api.get(f"{route}?cursor={quote(forge(value))}", token=token)
            assert r.status == 400 and r.json["error"]["field"] == "query.cursor", (route, value, r)
