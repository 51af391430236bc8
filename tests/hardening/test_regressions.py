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


OUT_OF_RANGE_INSTANTS = ["0001-01-01T00:00:00+08:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-12:00",
                         "9999-12-31T23:59:59Z", "1899-12-31T23:59:59Z", "2200-01-01T00:00:00Z"]
OUT_OF_RANGE_DAYS = ["0001-01-01", "1899-12-31", "2200-01-01", "9999-12-31"]


def test_campaign_time_out_of_range_is_a_400_naming_schedule_at_when_once_at_overflows(api: Any, merchant: Any) -> None:
    """Year 1 at +08:00 / year 9999 at -12:00 once raised OverflowError (500); 0001Z came back as a garbled field."""
    body = {"name": "x", "target": {"kind": "customers", "customer_ids": ["c1"]}, "action": {"channel": "webhook"}}
    for at in [*OUT_OF_RANGE_INSTANTS, "0001-01-01T00:00:00", "9999-12-31T23:59:59"]:
        r = api.post("/v1/campaigns", {**body, "schedule": {"kind": "once", "at": at}}, token=merchant.token)
        assert r.status == 400 and r.json["error"]["field"] == "body.schedule.at", (at, r)
    for day in OUT_OF_RANGE_DAYS:
        schedule = {"kind": "recurring", "frequency": "daily", "time": "10:00", "end_date": day}
        r = api.post("/v1/campaigns", {**body, "schedule": schedule}, token=merchant.token)
        assert r.status == 400 and r.json["error"]["field"] == "body.schedule.end_date", (day, r)
    ok = api.post("/v1/campaigns", {**body, "schedule": {"kind": "once", "at": "2199-12-31T10:00:00+08:00"}},
                  token=merchant.token)
    assert ok.status == 201 and ok.json["schedule"]["at"] == "2199-12-31T02:00:00Z", ok


def test_report_and_history_days_out_of_range_are_a_400_naming_the_day_when_local_midnight_overflows(
        api: Any, merchant: Any) -> None:
    """from/to of 0001-01-01 or 9999-12-31 once overflowed turning local days into UTC instants (500)."""
    campaign = api.post("/v1/campaigns", {"name": "x", "target": {"kind": "customers", "customer_ids": ["c1"]},
                                          "action": {"channel": "webhook"}, "schedule": {"kind": "once"}},
                        token=merchant.token).json["campaign_id"]
    for base in ("/v1/history", "/v1/history?format=csv", f"/v1/campaigns/{campaign}/report"):
        sep = "&" if "?" in base else "?"
        for day in OUT_OF_RANGE_DAYS:
            for name in ("from", "to"):
                r = api.get(f"{base}{sep}{name}={day}", token=merchant.token)
                assert r.status == 400 and r.json["error"]["field"] == f"query.{name}", (base, name, day, r)


def test_ingested_instants_and_days_out_of_range_are_refused_by_index_when_they_cannot_be_stored(
        api: Any, merchant: Any) -> None:
    """Such instants were accepted, then stored as ISO text with a one-digit year or overflowed in the metrics."""
    token = merchant.token
    customers = [{"customer_id": f"c{i}", "registered_at": at} for i, at in enumerate(OUT_OF_RANGE_INSTANTS)]
    customers += [{"customer_id": f"b{i}", "birthday": d} for i, d in enumerate(OUT_OF_RANGE_DAYS)]
    customers += [{"customer_id": f"k{i}", "cards": [{"card_id": "k", "kind": "times", "expires_on": d}]}
                  for i, d in enumerate(OUT_OF_RANGE_DAYS)]
    orders = [{"order_id": f"o{i}", "customer_id": "c0", "paid_at": at, "amount_fen": 1}
              for i, at in enumerate(OUT_OF_RANGE_INSTANTS)]
    events = [{"event_id": f"e{i}", "customer_id": "c0", "type": "visit", "at": at}
              for i, at in enumerate(OUT_OF_RANGE_INSTANTS)]
    for kind, items, field in (("customers", customers, None), ("orders", orders, "paid_at"), ("events", events, "at")):
        r = api.post(f"/v1/{kind}/batch", {"items": items}, token=token)
        assert r.status == 200 and r.json["accepted"] == 0, (kind, r)
        for result in r.json["results"]:
            assert result["errors"] and result["errors"][0]["field"].startswith(f"items[{result['index']}]."), result
            if field:
                assert result["errors"][0]["field"] == f"items[{result['index']}].{field}", result


def test_fixed_coupon_validity_out_of_range_is_a_400_naming_the_day_when_its_end_cannot_be_computed(
        api: Any, merchant: Any) -> None:
    """A fixed validity ending 9999-12-31 was accepted; its valid-until (the next local midnight) cannot exist."""
    body = {"name": "x", "kind": "store_threshold", "threshold_fen": 100, "discount_fen": 10, "stock": 5,
            "claim_window": {"kind": "any_time"}}
    for start, end, field in (("2026-11-23", "9999-12-31", "end"), ("0001-01-01", "2026-12-01", "start")):
        r = api.post("/v1/coupons", {**body, "validity": {"kind": "fixed", "start": start, "end": end}},
                     token=merchant.token)
        assert r.status == 400 and r.json["error"]["field"] == f"body.validity.{field}", r


def test_deeply_nested_body_is_a_400_naming_the_body_when_json_decoding_exhausts_the_stack(
        api: Any, merchant: Any) -> None:
    """50,000 nested arrays made json.loads raise RecursionError, which escaped as a 500."""
    for raw in ("[" * 50_000 + "]" * 50_000, '{"rule": ' + '{"all": [' * 3000 + "]}" * 3000 + "}"):
        r = api.post("/v1/audiences/estimate", raw=raw, token=merchant.token)
        assert r.status == 400 and r.json["error"]["field"] == "body", r
        assert r.json["error"]["code"] == "malformed_json", r


def test_batch_items_are_documented_as_customers_orders_and_events_when_the_openapi_document_is_served(
        api: Any) -> None:
    """Batch bodies were documented as arrays of arbitrary objects: clients (and the fuzzer) could not know an item."""
    document = api.get("/v1/openapi.json").json
    schemas = document["components"]["schemas"]
    for path, required in (("/v1/customers/batch", ["customer_id"]),
                           ("/v1/orders/batch", ["order_id", "customer_id", "paid_at", "amount_fen"]),
                           ("/v1/events/batch", ["event_id", "customer_id", "type", "at"])):
        ref = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        items = schemas[ref.rsplit("/", 1)[-1]]["properties"]["items"]
        assert (items["type"], items["minItems"], items["maxItems"]) == ("array", 1, 500), path
        assert sorted(items["items"]["required"]) == sorted(required), path
        assert items["items"]["additionalProperties"] is False and "$ref" not in json.dumps(items), path


def test_every_path_answers_405_json_naming_the_allowed_methods_when_called_with_any_other_method(
        api: Any, merchant: Any) -> None:
    """HEAD and OPTIONS had no 405 view: the local stack answered a non-JSON 405 / crashed, API Gateway a 403."""
    document = api.get("/v1/openapi.json").json
    for path, ops in document["paths"].items():
        concrete = path.replace("{", "x_").replace("}", "")
        allowed = {m.upper() for m in ops}
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"} - allowed:
            r = api.request(method, concrete, token=merchant.token)
            assert r.status == 405 and r.json["error"]["code"] == "method_not_allowed", (method, path, r)
            assert set(r.headers["allow"].split(", ")) == allowed, (method, path, r.headers)


def test_role_denial_is_a_403_when_the_path_id_is_also_malformed(api: Any, merchant: Any) -> None:
    """The path-id check ran before the role check: a staff key got 404 instead of 403 for an impossible id."""
    staff = api.post("/v1/keys", {"role": "staff", "staff_id": "s1"}, token=merchant.token).json["api_key"]
    readonly = api.post("/v1/keys", {"role": "readonly"}, token=merchant.token).json["api_key"]
    bad_id = "x" * 200
    for token, method, path in ((staff, "GET", f"/v1/contents/{bad_id}"), (staff, "GET", f"/v1/coupons/{bad_id}"),
                                (readonly, "DELETE", f"/v1/campaigns/{bad_id}"),
                                (readonly, "POST", f"/v1/coupon-instances/{bad_id}/claim")):
        r = api.request(method, path, {"customer_id": "c1"} if method == "POST" else None, token=token)
        assert r.status == 403 and r.json["error"]["code"] == "forbidden", (method, path, r)
    assert api.get(f"/v1/contents/{bad_id}", token=merchant.token).status == 404


def test_another_lists_cursor_is_a_400_naming_the_cursor_when_sent_to_campaigns(api: Any, merchant: Any) -> None:
    # Real DynamoDB refuses an ExclusiveStartKey outside the query's key condition (moto does not), which was a 500.
    for name in ("a", "b"):
        assert api.post("/v1/contents", {"name": name, "text": "hello"}, token=merchant.token).status == 201
    cursor = api.get("/v1/contents?limit=1", token=merchant.token).json["next_cursor"]
    assert cursor
    r = api.get(f"/v1/campaigns?cursor={quote(cursor)}", token=merchant.token)
    assert r.status == 400
    assert r.json["error"]["field"] == "query.cursor"
    assert api.get(f"/v1/contents?cursor={quote(cursor)}", token=merchant.token).status == 200


def test_nesting_limit_is_explicit_and_the_same_on_every_interpreter_when_a_body_nests_to_it(
        api: Any, merchant: Any) -> None:
    """3.11's json.loads raised RecursionError near 1,000 levels, 3.13's goes far deeper: the runtime set the limit."""
    from chalicelib.core.http import MAX_JSON_DEPTH

    at_limit = "[" * (MAX_JSON_DEPTH - 1) + '"[{"' + "]" * (MAX_JSON_DEPTH - 1)  # brackets in strings do not count
    r = api.post("/v1/audiences/estimate", raw='{"rule": ' + at_limit + "}", token=merchant.token)
    assert r.status == 400 and r.json["error"]["code"] != "malformed_json", r
    over = '{"rule": ' + "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH + "}"
    r = api.post("/v1/audiences/estimate", raw=over, token=merchant.token)
    assert r.status == 400 and r.json["error"]["code"] == "malformed_json", r
    assert f"more than {MAX_JSON_DEPTH} deep" in r.json["error"]["message"], r
