"""Treatments in the campaign body: stored and returned, every broken rule a 400 naming its field, nothing stored."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
TEN, TWENTY = "cp_10_off", "cp_20_off"
CONTENT = "ct_hello"


@pytest.fixture
def shop(merchant: Any, clock: Any) -> Any:
    from chalicelib import wiring
    clock.set(NOW)
    for cid, name in ((TEN, "满100减10"), (TWENTY, "满100减20")):
        wiring.repo("COUPON").create(merchant.id, cid, {"name": name, "kind": "store_threshold"}, NOW,
                                     status="active", name=name)
    wiring.repo("CONTENT").create(merchant.id, CONTENT, {"name": "hello", "text": "Hi {nickname}"}, NOW)
    return merchant


def arm(name: str, share: int, coupon: str, quantity: int = 1, channel: str = "wallet") -> dict[str, Any]:
    action: dict[str, Any] = {"channel": channel, "coupons": [{"coupon_id": coupon, "quantity": quantity}]}
    return {"name": name, "share_percent": share, "action": action}


def body(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "Coupon test", "target": {"kind": "audience", "audience_id": "scenario_sleeping"},
        "schedule": {"kind": "recurring", "frequency": "weekly", "time": "10:00", "weekdays": [1]},
        "holdout_percent": 10,
        "treatments": [arm("满100减10", 50, TEN), arm("满100减20", 50, TWENTY)],
        "experiment": {"metric": "net_revenue_per_recipient", "switch_to_winner": True},
    }
    base.update(changes)
    return base


def count(api: Any, token: str) -> int:
    return len(api.get("/v1/campaigns", token=token).json["items"])


def test_treatments_are_stored_with_the_first_arm_as_the_action(api: Any, shop: Any) -> None:
    r = api.post("/v1/campaigns", body(), token=shop.token)
    assert r.status == 201, r.json
    got = api.get(f"/v1/campaigns/{r.json['campaign_id']}", token=shop.token).json
    assert [t["name"] for t in got["treatments"]] == ["满100减10", "满100减20"]
    assert got["action"] == got["treatments"][0]["action"]
    assert got["experiment"] == {"metric": "net_revenue_per_recipient", "switch_to_winner": True}
    plain = api.post("/v1/campaigns", body(treatments=None, experiment=None,
                                           action={"channel": "wallet", "coupons": [{"coupon_id": TEN}]}),
                     token=shop.token)
    assert plain.status == 201 and plain.json["treatments"] is None and plain.json["experiment"] is None


def test_a_patch_of_the_treatments_moves_the_action_with_them(api: Any, shop: Any) -> None:
    c = api.post("/v1/campaigns", body(), token=shop.token).json
    arms = [arm("A", 30, TWENTY), arm("B", 30, TEN), arm("C", 40, TEN, 2)]
    r = api.patch(f"/v1/campaigns/{c['campaign_id']}", {"treatments": arms}, token=shop.token,
                  headers={"If-Match": str(c["version"])})
    assert r.status == 200, r.json
    assert r.json["action"]["coupons"] == [{"coupon_id": TWENTY, "quantity": 1}]
    assert [t["share_percent"] for t in r.json["treatments"]] == [30, 30, 40]


@pytest.mark.parametrize(("changes", "field"), [
    ({"treatments": [arm("A", 50, TEN), arm("B", 40, TWENTY)]}, "body.treatments"),
    ({"treatments": [arm("A", 60, TEN), arm("B", 60, TWENTY)]}, "body.treatments"),
    ({"treatments": [arm("A", 100, TEN)]}, "body.treatments"),
    ({"treatments": [arm(f"T{i}", 10, TEN) for i in range(6)]}, "body.treatments"),
    ({"treatments": [arm("A", 50, TEN), {"name": "B", "share_percent": 50}]}, "body.treatments[1].action"),
    ({"treatments": [arm("A", 50, TEN), arm("A", 50, TWENTY)]}, "body.treatments[1].name"),
    ({"treatments": [arm("A", 50, TEN), arm(" ", 50, TWENTY)]}, "body.treatments[1].name"),
    ({"treatments": [arm("A", 0, TEN), arm("B", 100, TWENTY)]}, "body.treatments[0].share_percent"),
    ({"treatments": [arm("A", 50, TEN), arm("B", 50, TWENTY, 91)]}, "body.treatments[1].action.coupons"),
    ({"treatments": [arm("A", 50, TEN), arm("B", 50, "cp_gone")]},
     "body.treatments[1].action.coupons[0].coupon_id"),
    ({"treatments": [arm("A", 50, TEN), {"name": "B", "share_percent": 50, "action": {"channel": "sms"}}]},
     "body.treatments[1].action.content_id"),
    ({"treatments": [arm("A", 50, TEN), {"name": "B", "share_percent": 50, "action": {"channel": "wallet"}}]},
     "body.treatments[1].action.coupons"),
    ({"action": {"channel": "wallet", "coupons": [{"coupon_id": TWENTY}]}}, "body.action"),
    ({"treatments": None}, "body.action"),
    ({"schedule": {"kind": "once", "at": "2026-11-24T02:00:00Z"}}, "body.experiment.switch_to_winner"),
    ({"experiment": {"metric": "clicks"}}, "body.experiment.metric"),
])
def test_broken_treatments_are_refused_naming_the_field(api: Any, shop: Any, changes: dict[str, Any],
                                                       field: str) -> None:
    before = count(api, shop.token)
    r = api.post("/v1/campaigns", body(**changes), token=shop.token)
    assert r.status == 400, r.json
    assert r.json["error"]["field"] == field, r.json
    assert count(api, shop.token) == before


def test_an_experiment_without_treatments_is_refused(api: Any, shop: Any) -> None:
    r = api.post("/v1/campaigns", body(treatments=None, action={"channel": "wallet", "coupons": [{"coupon_id": TEN}]}),
                 token=shop.token)
    assert r.status == 400 and r.json["error"]["field"] == "body.experiment"


def test_the_openapi_document_describes_treatments(api: Any) -> None:
    doc = api.get("/v1/openapi.json").json
    schemas = doc["components"]["schemas"]
    campaign = schemas["CampaignIn"]
    assert "action" not in campaign["required"] and "treatments" in campaign["properties"]
    treatment = schemas["Treatment"]
    assert set(treatment["required"]) == {"name", "share_percent", "action"}
    assert treatment["properties"]["share_percent"]["minimum"] == 1
    assert schemas["ExperimentIn"]["properties"]["metric"]["enum"] == [
        "conversion", "revenue_per_recipient", "net_revenue_per_recipient"]
