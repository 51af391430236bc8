"""Content template routes and rendering: variables checked at save time, attachments by reference."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.contents.render import RenderError

BODY = {"name": "回访券", "text": "{nickname}您好，{store_name}送您{coupon_name}，点击领取 {claim_link}",
        "subject": "{store_name}的礼物",
        "attachments": [{"type": "image", "url": "https://cdn.example/a.png", "size_bytes": 120_000, "title": "券"}]}
MB = 1024 * 1024


def create(api: Any, token: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Any:
    return api.post("/v1/contents", body or BODY, token=token, headers=headers)


def test_create_lists_the_variables_and_reads_back(api: Any, merchant: Any) -> None:
    r = create(api, merchant.token)
    assert r.status == 201, r.json
    body = r.json
    assert body["content_id"].startswith("ct_")
    assert body["variables"] == ["nickname", "store_name", "coupon_name", "claim_link"]
    assert body["attachments"][0]["size_bytes"] == 120_000 and r.headers["etag"] == f'"{body["version"]}"'
    assert api.get(f"/v1/contents/{body['content_id']}", token=merchant.token).json == body
    listed = api.get("/v1/contents", token=merchant.token).json["items"]
    assert [c["content_id"] for c in listed] == [body["content_id"]]


@pytest.mark.parametrize(("change", "field"), [
    ({"text": "hi {name}"}, "body.text"),
    ({"text": "hi {nickname"}, "body.text"),
    ({"text": "hi {nickname.__class__}"}, "body.text"),
    ({"text": ""}, "body.text"),
    ({"subject": "{coupon}"}, "body.subject"),
    ({"name": "x" * 33}, "body.name"),
    ({"attachments": [{"type": "video", "url": "https://cdn.example/v.mp4", "size_bytes": 101 * MB}]},
     "body.attachments.0.size_bytes"),
    ({"attachments": [{"type": "file", "url": "https://cdn.example/f.pdf"}]}, "body.attachments.0.size_bytes"),
    ({"attachments": [{"type": "image", "url": "ftp://cdn.example/a.png", "size_bytes": 1}]},
     "body.attachments.0.url"),
    ({"attachments": [{"type": "sticker", "url": "https://cdn.example/s"}]}, "body.attachments.0.type"),
    ({"attachments": [{"type": "link", "url": "https://e.example/x"}] * 10}, "body.attachments"),
    ({"color": "red"}, "body.color"),
])
def test_create_names_the_field_when_invalid(api: Any, merchant: Any, change: dict[str, Any], field: str) -> None:
    r = create(api, merchant.token, {**BODY, **change})
    assert r.status == 400, r.json
    assert field in [d["field"] for d in r.json["error"]["details"]]


def test_unknown_variable_error_says_which(api: Any, merchant: Any) -> None:
    r = create(api, merchant.token, {**BODY, "text": "hello {customer_name}"})
    assert "{customer_name}" in r.json["error"]["reason"] and "nickname" in r.json["error"]["reason"]


def test_readonly_reads_but_cannot_write(api: Any, merchant: Any) -> None:
    token = api.post("/v1/keys", {"role": "readonly"}, token=merchant.token).json["api_key"]
    content_id = create(api, merchant.token).json["content_id"]
    assert api.get(f"/v1/contents/{content_id}", token=token).status == 200
    assert create(api, token).status == 403
    assert api.patch(f"/v1/contents/{content_id}", {"text": "x"}, token=token).status == 403
    assert api.delete(f"/v1/contents/{content_id}", token=token).status == 403


def test_another_merchant_gets_404(api: Any, merchant: Any, other_merchant: Any) -> None:
    content_id = create(api, merchant.token).json["content_id"]
    for r in (api.get(f"/v1/contents/{content_id}", token=other_merchant.token),
              api.patch(f"/v1/contents/{content_id}", {"text": "x"}, token=other_merchant.token),
              api.delete(f"/v1/contents/{content_id}", token=other_merchant.token)):
        assert r.status == 404 and r.json["error"]["field"] == "path.content_id"


def test_patch_checks_if_match_and_the_merged_body(api: Any, merchant: Any) -> None:
    content = create(api, merchant.token).json
    path = f"/v1/contents/{content['content_id']}"
    ok = api.patch(path, {"text": "{nickname}，新品上市"}, token=merchant.token,
                   headers={"If-Match": str(content["version"])})
    assert ok.status == 200 and ok.json["variables"] == ["nickname", "store_name"]  # subject still uses store_name
    stale = api.patch(path, {"text": "x"}, token=merchant.token, headers={"If-Match": str(content["version"])})
    assert stale.status == 412 and stale.json["error"]["field"] == "header.If-Match"
    bad = api.patch(path, {"text": "{nope}"}, token=merchant.token)
    assert bad.status == 400 and bad.json["error"]["field"] == "body.text"
    cleared = api.patch(path, {"subject": None, "attachments": []}, token=merchant.token).json
    assert cleared["subject"] is None and cleared["attachments"] == []
    assert api.delete(path, token=merchant.token, headers={"If-Match": str(content["version"])}).status == 412


def test_create_is_idempotent_when_the_key_repeats(api: Any, merchant: Any) -> None:
    first = create(api, merchant.token, headers={"Idempotency-Key": "c-1"})
    again = create(api, merchant.token, headers={"Idempotency-Key": "c-1"})
    assert again.status == 201 and again.json["content_id"] == first.json["content_id"]
    assert create(api, merchant.token, {**BODY, "name": "other"}, headers={"Idempotency-Key": "c-1"}).status == 409


def test_delete_is_refused_while_a_live_campaign_uses_the_content(api: Any, merchant: Any) -> None:
    from chalicelib import wiring
    content_id = create(api, merchant.token).json["content_id"]
    wiring.repo("CAMPAIGN").create(merchant.id, "cmp_c", {"action": {"channel": "sms", "content_id": content_id}},
                                   datetime(2026, 11, 23, tzinfo=UTC), status="scheduled")
    r = api.delete(f"/v1/contents/{content_id}", token=merchant.token)
    assert r.status == 409 and "cmp_c" in r.json["error"]["reason"]


def test_render_fills_text_and_subject_and_refuses_a_blank(api: Any, merchant: Any) -> None:
    from chalicelib import wiring
    content_id = create(api, merchant.token).json["content_id"]
    values = {"nickname": "小王", "store_name": "面馆", "coupon_name": "满30减5", "claim_link": "https://s.example/c"}
    rendered = wiring.content_service().render(merchant.id, content_id, values)
    assert rendered.text == "小王您好，面馆送您满30减5，点击领取 https://s.example/c"
    assert rendered.subject == "面馆的礼物" and rendered.attachments[0]["type"] == "image"
    with pytest.raises(RenderError) as err:
        wiring.content_service().render(merchant.id, content_id, {**values, "nickname": ""})
    assert err.value.variable == "nickname"
