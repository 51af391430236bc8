"""List audiences by exact nickname and by phone however it is written; the reply names what matched nobody
(issue 18 item 6, 004 精确搜索)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.test_audiences_api import create, member_ids

CUSTOMERS = [
    {"customer_id": "a1", "nickname": "王小美", "phone": "+8613812345678"},
    {"customer_id": "a2", "nickname": "王小美", "phone": "13900001111"},  # same nickname, phone without +86
    {"customer_id": "a3", "nickname": "Lily", "phone": "+4915112345678"},
    {"customer_id": "a4", "nickname": " 阿花 "},
]


@pytest.fixture
def shop(api: Any, merchant: Any) -> Any:
    r = api.post("/v1/customers/batch", {"items": CUSTOMERS}, token=merchant.token)
    assert r.status == 200 and r.json["accepted"] == 4, r
    return merchant


def test_list_audience_found_by_exact_nickname_names_the_unmatched(api: Any, shop: Any) -> None:
    r = create(api, shop.token, {"kind": "list", "name": "回访", "nicknames": ["王小美", "阿花", "lily", "无此人"]})
    assert r.status == 201, r
    a = r.json
    # exact: every customer of the nickname; 阿花 matches with its ends trimmed; Lily is not lily
    assert sorted(member_ids(api, shop.token, a["audience_id"])) == ["a1", "a2", "a4"]
    assert a["count"] == 3 and a["unmatched"] == {"phones": [], "nicknames": ["lily", "无此人"]}
    assert a["unmatched_nicknames"] == 2 and a["unmatched_phones"] == 0
    assert api.get(f"/v1/audiences/{a['audience_id']}", token=shop.token).json["unmatched"] == a["unmatched"]


@pytest.mark.parametrize("written", ["+86 138 1234 5678", "138-1234-5678", "13812345678", "0086 13812345678",
                                     "86-138-1234-5678", "(+86) 138.1234.5678", "＋８６ １３８１２３４５６７８"])
def test_list_audience_found_by_phone_however_it_is_written(api: Any, shop: Any, written: str) -> None:
    r = create(api, shop.token, {"kind": "list", "name": "VIP", "phones": [written]})
    assert r.status == 201, r
    assert member_ids(api, shop.token, r.json["audience_id"]) == ["a1"] and r.json["unmatched"]["phones"] == []


def test_phones_stored_without_country_code_match_the_normalised_number(api: Any, shop: Any) -> None:
    r = create(api, shop.token, {"kind": "list", "name": "VIP", "phones": ["+86 139 0000 1111", "+49 151 12345678"]})
    assert sorted(member_ids(api, shop.token, r.json["audience_id"])) == ["a2", "a3"]


def test_unmatched_phones_and_nicknames_are_named_as_given_once_each(api: Any, shop: Any) -> None:
    body = {"kind": "list", "name": "混合", "customer_ids": ["a3"],
            "phones": ["138 1234 5678", "+86 137-0000-0000", "13700000000"], "nicknames": ["无此人", "无此人"]}
    a = create(api, shop.token, body).json
    assert sorted(member_ids(api, shop.token, a["audience_id"])) == ["a1", "a3"]
    # the two spellings of 137 0000 0000 are one number, named as first given
    assert a["unmatched"] == {"phones": ["+86 137-0000-0000"], "nicknames": ["无此人"]}
    assert (a["unmatched_phones"], a["unmatched_nicknames"]) == (1, 1)
    grown = api.post(f"/v1/audiences/{a['audience_id']}/members", {"nicknames": ["Lily", "王小美"]}, token=shop.token)
    assert grown.status == 200 and grown.json["count"] == 3 and grown.json["unmatched"]["nicknames"] == []
    replaced = api.patch(f"/v1/audiences/{a['audience_id']}", {"nicknames": ["阿花"], "phones": ["10000"]},
                         token=shop.token)
    assert replaced.status == 400 and replaced.json["error"]["field"] == "body.phones.0"
    replaced = api.patch(f"/v1/audiences/{a['audience_id']}", {"nicknames": ["阿花"]}, token=shop.token)
    assert replaced.status == 200 and member_ids(api, shop.token, a["audience_id"]) == ["a4"]


def test_nickname_changes_move_the_customer_in_the_search(api: Any, shop: Any) -> None:
    assert api.post("/v1/customers/batch", {"items": [{"customer_id": "a1", "nickname": "新名字"}]},
                    token=shop.token).status == 200
    a = create(api, shop.token, {"kind": "list", "name": "x", "nicknames": ["王小美", "新名字"]}).json
    assert sorted(member_ids(api, shop.token, a["audience_id"])) == ["a1", "a2"]
    b = create(api, shop.token, {"kind": "list", "name": "y", "phones": ["13812345678"]}).json
    assert b["unmatched"]["phones"] == ["13812345678"]  # the new profile has no phone


@pytest.mark.parametrize(("body", "field"), [
    ({"nicknames": ["  "]}, "body.nicknames.0"),
    ({"nicknames": ["x" * 33]}, "body.nicknames.0"),
    ({"phones": ["138-1234-567a"]}, "body.phones.0"),
    ({"phones": ["12345"]}, "body.phones.0"),
    ({"nicknames": ["x"] * 1001}, "body.nicknames"),
])
def test_bad_search_values_are_400_naming_the_field(api: Any, shop: Any, body: dict[str, Any], field: str) -> None:
    r = create(api, shop.token, {"kind": "list", "name": "bad", **body})
    assert r.status == 400 and r.json["error"]["field"] == field, r.json


def test_searches_never_find_another_merchants_customers(api: Any, shop: Any, other_merchant: Any) -> None:
    theirs = create(api, other_merchant.token, {"kind": "list", "name": "t", "nicknames": ["王小美"],
                                                "phones": ["13812345678"]}).json
    assert theirs["count"] == 0 and theirs["unmatched"] == {"phones": ["13812345678"], "nicknames": ["王小美"]}


def test_custom_audiences_take_no_nicknames(api: Any, shop: Any) -> None:
    r = create(api, shop.token, {"name": "c", "rule": {"all": [{"field": "orders_total", "op": "gte", "value": 0}]},
                                 "nicknames": ["王小美"]})
    assert r.status == 400 and r.json["error"]["field"] == "body.nicknames"
