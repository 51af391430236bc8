"""Safe rendering of content text: allowed variables only, no format tricks, never a blank."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chalicelib.contents.render import RenderError, TemplateError, render, template_variables
from chalicelib.contents.schemas import ContentIn

VALUES = {"nickname": "小王", "store_name": "老街面馆", "coupon_name": "满30减5", "coupon_value": "满30元减5元",
          "claim_link": "https://s.example/c/1", "unsubscribe_link": "https://s.example/u/1"}


def test_render_fills_every_variable_when_values_are_given() -> None:
    text = "{nickname}，{store_name}送你{coupon_name}（{coupon_value}）：{claim_link} 退订 {unsubscribe_link}"
    assert render(text, VALUES) == ("小王，老街面馆送你满30减5（满30元减5元）：https://s.example/c/1 "
                                    "退订 https://s.example/u/1")


def test_literal_braces_are_written_doubled() -> None:
    assert render("{{VIP}} {nickname}", VALUES) == "{VIP} 小王"
    assert template_variables("{{nickname}}") == []


def test_values_are_not_interpreted_when_they_contain_braces() -> None:
    assert render("hi {nickname}", {"nickname": "{store_name.__class__}"}) == "hi {store_name.__class__}"


@pytest.mark.parametrize(("text", "fragment"), [
    ("hello {name}", "unknown variable {name}"),
    ("hello {nickname", "unbalanced braces"),
    ("hello nickname}", "unbalanced braces"),
    ("{nickname.__class__}", "unknown variable"),
    ("{nickname[0]}", "unknown variable"),
    ("{}", "unknown variable {(empty)}"),
    ("{0}", "unknown variable {0}"),
    ("{nickname!r}", "no format spec or conversion"),
    ("{nickname:>10}", "no format spec or conversion"),
])
def test_invalid_template_is_refused_with_a_reason(text: str, fragment: str) -> None:
    with pytest.raises(TemplateError) as err:
        template_variables(text)
    assert fragment in str(err.value)


@pytest.mark.parametrize("value", [None, "", "   "])
def test_render_raises_naming_the_variable_when_a_value_is_missing_or_blank(value: str | None) -> None:
    with pytest.raises(RenderError) as err:
        render("hi {nickname}, {store_name}", {**VALUES, "nickname": value})
    assert err.value.variable == "nickname" and "{nickname}" in str(err.value)


def test_unused_values_are_ignored_and_order_of_first_use_is_reported() -> None:
    assert template_variables("{store_name} {nickname} {store_name}") == ["store_name", "nickname"]
    assert render("{store_name}", {"store_name": "S"}) == "S"


def test_content_schema_names_text_and_attachment_fields() -> None:
    with pytest.raises(ValidationError) as err:
        ContentIn.model_validate({"name": "n", "text": "{oops}", "attachments": [
            {"type": "image", "url": "https://cdn.example/a.png", "size_bytes": 11 * 1024 * 1024},
            {"type": "video", "url": "https://cdn.example/v.mp4"},
            {"type": "link", "url": "http://insecure.example"}]})
    locs = {".".join(str(p) for p in e["loc"]) for e in err.value.errors()}
    assert locs == {"text", "attachments.0.size_bytes", "attachments.1.size_bytes", "attachments.2.url"}


def test_content_schema_accepts_links_and_mini_programs_without_size() -> None:
    body = ContentIn.model_validate({"name": "n", "text": "hi", "attachments": [
        {"type": "link", "url": "https://example.com/x", "title": "x"},
        {"type": "mini_program", "url": "https://mp.example/page?id=1"},
        {"type": "file", "url": "https://cdn.example/f.pdf", "size_bytes": 50 * 1024 * 1024}]})
    assert len(body.attachments) == 3
