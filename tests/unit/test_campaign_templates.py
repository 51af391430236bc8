"""Campaign templates are valid create bodies; body rules and schedule conversion name the offending field."""

from __future__ import annotations

import copy
import re
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.audiences.builtin import BUILTIN_IDS
from chalicelib.campaigns.checks import check_body, check_guardrails
from chalicelib.campaigns.model import OPEN_START, to_schedule
from chalicelib.campaigns.schedule import Frequency, OnceSchedule, RecurringSchedule
from chalicelib.campaigns.schedule_triggered import TriggeredSchedule, TriggerEvent
from chalicelib.campaigns.schemas import CampaignIn
from chalicelib.campaigns.templates import CONTENT, COUPON, TEMPLATES
from chalicelib.core.errors import Invalid
from chalicelib.tenancy.model import Guardrails

SPEC_TEMPLATES = {"member_day", "new_customer_second_visit", "after_service_follow_up", "periodic_card_use_reminder",
                  "card_expiry_reminder", "times_card_running_low", "stored_value_running_low", "birthday",
                  "win_back_sleeping", "grow_new_members"}


def _get(body: dict[str, Any], path: str) -> Any:
    value: Any = body
    for part in re.findall(r"[A-Za-z_]+|\[\d+\]", path):
        value = value[int(part[1:-1])] if part.startswith("[") else value[part]
    return value


def test_ten_spec_templates_when_listed() -> None:
    assert {t.id for t in TEMPLATES} == SPEC_TEMPLATES
    assert len(TEMPLATES) == 10


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.id)
def test_template_body_validates_against_the_create_schema(template: Any) -> None:
    body = CampaignIn.model_validate(template.body)
    schedule = check_body(body)
    assert isinstance(schedule, OnceSchedule | RecurringSchedule | TriggeredSchedule)
    assert body.model_dump(mode="json")["target"] == template.body["target"]
    if body.target.kind == "audience":
        assert body.target.audience_id in BUILTIN_IDS


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.id)
def test_template_requires_lists_exactly_its_placeholders(template: Any) -> None:
    for path in template.requires:
        assert _get(template.body, path) in (COUPON, CONTENT)
    placeholders = str(template.body).count(COUPON) + str(template.body).count(CONTENT)
    assert placeholders == len(template.requires)


def test_templates_cover_the_spec_schedules_when_compared() -> None:
    by_id = {t.id: to_schedule(t.body["schedule"]) for t in TEMPLATES}
    member = by_id["member_day"]
    assert isinstance(member, RecurringSchedule) and member.month_days == (8, 18)
    low = by_id["stored_value_running_low"]
    assert isinstance(low, RecurringSchedule) and low.last_day
    birthday = by_id["birthday"]
    assert isinstance(birthday, TriggeredSchedule) and birthday.event is TriggerEvent.BIRTHDAY
    assert birthday.time_of_day == time(9, 0)
    service = by_id["after_service_follow_up"]
    assert isinstance(service, TriggeredSchedule) and service.event is TriggerEvent.SERVICE_COMPLETED
    assert isinstance(by_id["periodic_card_use_reminder"], TriggeredSchedule)
    sleeping = by_id["win_back_sleeping"]
    assert isinstance(sleeping, RecurringSchedule) and sleeping.start_next_period


def test_to_schedule_builds_dataclasses_when_body_is_stored_json() -> None:
    once = to_schedule({"kind": "once", "at": "2026-12-01T02:00:00Z"})
    assert once == OnceSchedule(datetime(2026, 12, 1, 2, tzinfo=UTC))
    local = to_schedule({"kind": "once", "at": "2026-12-01T10:00:00"})
    assert isinstance(local, OnceSchedule) and local.at is not None and local.at.tzinfo is None
    rec = to_schedule({"kind": "recurring", "frequency": "monthly", "time": "10:30", "month_days": [18, 8],
                       "start_date": None, "end_date": "2027-01-31"})
    assert rec == RecurringSchedule(frequency=Frequency.MONTHLY, time_of_day=time(10, 30), month_days=(8, 18),
                                    start_date=OPEN_START, end_date=date(2027, 1, 31))
    trig = to_schedule({"kind": "triggered", "event": "purchase_items", "delay_days": 3, "time": None,
                        "item_ids": ["b", "a"]})
    assert trig == TriggeredSchedule(TriggerEvent.PURCHASE_ITEMS, 3, None, ("a", "b"))


@pytest.mark.parametrize(("schedule", "field"), [
    ({"kind": "recurring", "frequency": "weekly", "time": "10:00"}, "body.schedule.weekdays"),
    ({"kind": "recurring", "frequency": "monthly", "time": "10:00"}, "body.schedule.month_days"),
    ({"kind": "recurring", "frequency": "daily", "time": "10:00", "weekdays": [1]}, "body.schedule.weekdays"),
    ({"kind": "recurring", "frequency": "daily", "time": "10:00", "start_date": "2027-01-02",
      "end_date": "2027-01-01"}, "body.schedule.end_date"),
    ({"kind": "triggered", "event": "purchase_items"}, "body.schedule.item_ids"),
    ({"kind": "triggered", "event": "purchase", "item_ids": ["x"]}, "body.schedule.item_ids"),
])
def test_schedule_combination_names_its_field_when_invalid(schedule: dict[str, Any], field: str) -> None:
    body = CampaignIn.model_validate({**TEMPLATES[0].body, "schedule": schedule})
    with pytest.raises(Invalid) as info:
        check_body(body)
    assert info.value.field == field


@pytest.mark.parametrize(("action", "field"), [
    ({"channel": "wallet", "coupons": []}, "body.action.coupons"),
    ({"channel": "sms"}, "body.action.content_id"),
    ({"channel": "wallet", "coupons": [{"coupon_id": "a", "quantity": 60}, {"coupon_id": "b", "quantity": 41}]},
     "body.action.coupons"),
    ({"channel": "wallet", "coupons": [{"coupon_id": "a", "quantity": 91}]}, "body.action.coupons"),
    ({"channel": "wallet", "coupons": [{"coupon_id": "a", "quantity": 60}, {"coupon_id": "b", "quantity": 29}]},
     "body.action.coupons"),
    ({"channel": "wallet", "coupons": [{"coupon_id": "a"}, {"coupon_id": "a"}]}, "body.action.coupons[1].coupon_id"),
])
def test_action_rule_names_its_field_when_broken(action: dict[str, Any], field: str) -> None:
    body = CampaignIn.model_validate({**TEMPLATES[0].body, "action": action})
    with pytest.raises(Invalid) as info:
        check_body(body)
    assert info.value.field == field


def test_inline_rule_error_names_the_rule_path_when_field_is_unknown() -> None:
    raw = copy.deepcopy(TEMPLATES[0].body)
    raw["target"] = {"kind": "rule", "rule": {"all": [{"field": "nope", "op": "eq", "value": 1}]}}
    with pytest.raises(Invalid) as info:
        check_body(CampaignIn.model_validate(raw))
    assert info.value.field == "body.target.rule.all[0].field"


def test_union_errors_name_the_field_without_the_tag_when_schema_fails() -> None:
    raw = {**TEMPLATES[0].body, "target": {"kind": "audience", "audience_id": "bad id!"}}
    with pytest.raises(ValidationError) as info:
        CampaignIn.model_validate(raw)
    assert [e["loc"] for e in info.value.errors()] == [("target", "audience_id")]


def test_guardrail_overrides_only_tighten_when_compared_to_settings() -> None:
    limits = Guardrails()
    body = CampaignIn.model_validate({**TEMPLATES[0].body, "guardrails": {"daily_messages_per_customer": 0,
                                                                          "coupon_message_cooldown_days": 7}})
    check_guardrails(body.guardrails, limits, "body.")
    looser = CampaignIn.model_validate({**TEMPLATES[0].body, "guardrails": {"coupon_message_cooldown_days": 2}})
    with pytest.raises(Invalid) as info:
        check_guardrails(looser.guardrails, limits, "body.")
    assert info.value.field == "body.guardrails.coupon_message_cooldown_days"
