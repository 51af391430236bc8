"""The ten plan templates of SPEC §6 (003, 004), each a prefilled, schema-valid campaign body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

COUPON = "TEMPLATE_COUPON_ID"
CONTENT = "TEMPLATE_CONTENT_ID"
NEEDS_COUPON = "action.coupons[0].coupon_id"
NEEDS_CONTENT = "action.content_id"
# Placeholders pass the schema (they are well-formed ids) but no merchant has them, so a body
# posted without replacing them is refused with 400 naming exactly the path listed in `requires`.

EVERYONE: dict[str, Any] = {"all": [{"field": "risk_flagged", "op": "eq", "value": False}]}


@dataclass(frozen=True)
class CampaignTemplate:
    id: str
    name: str
    name_zh: str
    description: str
    requires: tuple[str, ...]
    body: dict[str, Any]


def _wallet(quantity: int = 1) -> dict[str, Any]:
    return {"channel": "wallet", "coupons": [{"coupon_id": COUPON, "quantity": quantity}]}


def _message(channel: str, coupon: bool = False) -> dict[str, Any]:
    coupons = [{"coupon_id": COUPON, "quantity": 1}] if coupon else []
    return {"channel": channel, "coupons": coupons, "content_id": CONTENT}


def _rule(*conditions: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "rule", "rule": {"all": list(conditions)}}


def _monthly(days: list[int], last_day: bool = False) -> dict[str, Any]:
    return {"kind": "recurring", "frequency": "monthly", "time": "10:00", "month_days": days, "last_day": last_day}


def _weekly(days: list[int], next_period: bool = False) -> dict[str, Any]:
    return {"kind": "recurring", "frequency": "weekly", "time": "10:00", "weekdays": days,
            "start_next_period": next_period}


def _triggered(event: str, delay_days: int, at: str | None = "10:00") -> dict[str, Any]:
    return {"kind": "triggered", "event": event, "delay_days": delay_days, "time": at}


def _template(id_: str, name: str, name_zh: str, description: str, label: str | None, target: dict[str, Any],
              action: dict[str, Any], schedule: dict[str, Any]) -> CampaignTemplate:
    requires = tuple(path for path, given in ((NEEDS_COUPON, action.get("coupons")),
                                              (NEEDS_CONTENT, action.get("content_id"))) if given)
    body = {"name": name_zh, "description": description[:200], "label": label, "target": target,
            "action": action, "schedule": schedule}
    return CampaignTemplate(id_, name, name_zh, description, requires, body)


TEMPLATES: tuple[CampaignTemplate, ...] = (
    _template("member_day", "Member day", "会员日",
              "Members get a coupon in their wallet on member days: the 8th and 18th of every month at 10:00.",
              "增购", _rule({"field": "member_level", "op": "gte", "value": 1}), _wallet(), _monthly([8, 18])),
    _template("new_customer_second_visit", "New customer second visit", "新客二次到店",
              "7 days after a new customer's first purchase, their staff owner gets a task to invite them back.",
              "拉新", _rule({"field": "orders_total", "op": "eq", "value": 1}), _message("staff_task"),
              _triggered("purchase", 7, "09:00")),
    _template("after_service_follow_up", "After-service follow-up", "服务后回访",
              "14 days after a completed service, remind the customer to come back (e.g. eyelash refill).",
              "客情维护", {"kind": "rule", "rule": EVERYONE}, _message("inbox"), _triggered("service_completed", 14)),
    _template("periodic_card_use_reminder", "Periodic card-use reminder", "定期划卡提醒",
              "30 days after a card is used, remind holders of times cards with uses left to book the next one.",
              "客情维护", _rule({"field": "card_remaining_count", "op": "gt", "value": 0}), _message("inbox"),
              _triggered("card_used", 30)),
    _template("card_expiry_reminder", "Card expiry reminder", "卡项到期提醒",
              "On the 1st of every month, text customers whose card expires within 30 days.",
              "客情维护", _rule({"field": "card_expires_in_days", "op": "between", "value": [0, 30],
                               "card": {"active": True}}), _message("sms"), _monthly([1])),
    _template("times_card_running_low", "Times card running low", "次卡剩余次数不足",
              "Every Monday, staff owners get a follow-up task for customers with 1-2 uses left on a times card.",
              "客情维护", _rule({"field": "card_remaining_count", "op": "between", "value": [1, 2]}),
              _message("staff_task"), _weekly([1])),
    _template("stored_value_running_low", "Stored value running low", "充值卡余额不足",
              "On the last day of every month, remind customers whose stored-value balance is below 50 yuan.",
              "增购", _rule({"field": "card_balance", "op": "between", "value": [1, 4999]}),
              _message("inbox", coupon=True), _monthly([], last_day=True)),
    _template("birthday", "Birthday", "生日关怀",
              "On the customer's birthday at 09:00, a birthday coupon goes into the wallet.",
              None, {"kind": "rule", "rule": EVERYONE}, _wallet(), _triggered("birthday", 0, "09:00")),
    _template("win_back_sleeping", "Win back sleeping customers", "唤醒沉睡顾客",
              "Every Thursday, customers with no purchase in 15 days but one in 90 days get a coupon; the "
              "audience is re-evaluated each week and the first send is next week.",
              "增购", {"kind": "audience", "audience_id": "scenario_sleeping"}, _wallet(), _weekly([4], True)),
    _template("grow_new_members", "Grow new members", "培育新会员",
              "Every Thursday, members registered 7-30 days ago with fewer than 3 purchases get a coupon; "
              "re-evaluated each week, starting next week.",
              "拉新", {"kind": "audience", "audience_id": "scenario_grow_new_members"}, _wallet(),
              _weekly([4], True)),
)
