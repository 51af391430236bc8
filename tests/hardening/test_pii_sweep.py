"""PII by role: every GET route (JSON, CSV and S3 exports) called with a readonly key shows no full e-mail,
birthday or phone; admin and operator keys see e-mail and birthday on the profile."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

import pytest

from chalicelib.core.pii import mask_email
from tests.support.world import CUSTOMERS, seed_world

BIRTHDAY = "1990-05-17"


def _raw_values(customers: list[dict[str, Any]]) -> set[str]:
    """What must never appear to a readonly key: the e-mails, birthdays and phones as stored."""
    out = set()
    for c in customers:
        out |= {c["email"], c["phone"], c["phone"].lstrip("+"), c["birthday"], c["birthday"].replace("-", "")}
    return out


def _get_paths(document: dict[str, Any], ids: dict[str, list[str]]) -> list[str]:
    """Every GET path of the OpenAPI document with A's ids filled in, plus its CSV form where it has one."""
    out = []
    for path, ops in document["paths"].items():
        if "get" not in ops:
            continue
        names = re.findall(r"{([a-z_]+)}", path)
        missing = [n for n in names if n not in ids]
        assert not missing, f"{path}: the sweep has no id for {missing}"
        fills = [path]
        for name in names:
            fills = [f.replace(f"{{{name}}}", value) for f in fills for value in ids[name]]
        params = {p["name"] for p in ops["get"].get("parameters", []) if p.get("in") == "query"}
        for filled in fills:
            out.append(filled)
            if "format" in params:
                out.append(f"{filled}?format=csv")
    return out


def test_a_readonly_key_sees_no_full_email_birthday_or_phone_on_any_route(api: Any, merchant: Any, runtime: Any,
                                                                         clock: Any, monkeypatch: Any) -> None:
    world = seed_world(api, merchant, runtime, clock.now)
    customers = [{"customer_id": c, "nickname": f"alice-{c}", "phone": f"+8613900012{i:02d}",
                  "email": f"private.{c}@mailbox.example", "birthday": BIRTHDAY, "staff_owner": "s1",
                  "tags": ["vip"]} for i, c in enumerate(CUSTOMERS)]
    assert api.post("/v1/customers/batch", {"items": customers}, token=merchant.token).status == 200
    readonly = api.post("/v1/keys", {"role": "readonly", "label": "analyst"}, token=merchant.token).json["api_key"]
    ids = dict(world.ids) | {"customer_id": list(CUSTOMERS)}
    document = api.get("/v1/openapi.json").json
    from chalicelib.reports import api as reports_api
    monkeypatch.setattr(reports_api, "EXPORT_THRESHOLD", 0)  # every CSV goes to S3: the exports are read too

    raw, problems, seen = _raw_values(customers), [], 0
    for path in _get_paths(document, ids):
        answer = api.get(path, token=readonly)
        if answer.status == 403:
            continue
        assert answer.status == 200, (path, answer)
        texts = [answer.text]
        if answer.json and isinstance(answer.json, dict) and "url" in answer.json and "expires_in" in answer.json:
            texts.append(_export(answer.json["url"]))
        seen += 1
        leaked = sorted(v for v in raw for text in texts if v in text)
        if leaked:
            problems.append(f"{path}: {leaked}")
    assert not problems, "\n".join(problems)
    assert seen >= 20
    shown = api.get("/v1/customers/c1", token=readonly).json["profile"]
    assert (shown["email"], shown["birthday"], shown["phone"]) == ("p***@mailbox.example", None, "+8613****1200")


@pytest.mark.parametrize("role", ["admin", "operator"])
def test_campaign_roles_see_email_and_birthday_with_the_phone_masked(api: Any, merchant: Any, role: str) -> None:
    item = {"customer_id": "p1", "phone": "+8613900012345", "email": "p1@mailbox.example", "birthday": BIRTHDAY}
    assert api.post("/v1/customers/batch", {"items": [item]}, token=merchant.token).status == 200
    token = merchant.token if role == "admin" else api.post("/v1/keys", {"role": role},
                                                              token=merchant.token).json["api_key"]
    shown = api.get("/v1/customers/p1", token=token).json["profile"]
    assert (shown["email"], shown["birthday"], shown["phone"]) == ("p1@mailbox.example", BIRTHDAY, "+86139****2345")


def test_email_mask_keeps_only_the_first_letter_and_the_domain() -> None:
    assert mask_email("zhang.wei@example.com") == "z***@example.com"
    assert mask_email("") == "" and mask_email(None) is None and mask_email("no-at-sign") == "***"


def _export(url: str) -> str:
    from chalicelib import wiring
    from chalicelib.core.config import get_config

    bucket = get_config().export_bucket
    key = urlparse(url).path.lstrip("/").removeprefix(bucket + "/")
    return str(wiring.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode())
