"""Pure guardrail rules added for the seeds (issue 18): staff tasks, quiet-hour channels, loosening, audience keys."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from chalicelib.campaigns.checks import check_guardrails, loosened
from chalicelib.campaigns.schedule import Frequency, OnceSchedule, RecurringSchedule
from chalicelib.campaigns.schedule_triggered import TriggeredSchedule, TriggerEvent
from chalicelib.campaigns.schemas import CampaignGuardrails
from chalicelib.core.errors import Invalid
from chalicelib.guardrails import feasibility
from chalicelib.guardrails.rules import (
    STAFF_TASK_OPEN,
    TASK_LOCK_DAYS,
    Grant,
    Limits,
    QuietHours,
    RiskRule,
    apply,
    limits_of,
    quiet_until,
    task_lock,
    violations,
    write_for,
)
from chalicelib.tenancy.model import CAPS_LARGER_IS_LOOSER, MerchantSettings

TZ = "Asia/Shanghai"
NOON = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)  # 12:00 local
NIGHT = datetime(2026, 11, 24, 14, 0, tzinfo=UTC)  # 22:00 local
PLAIN = Limits(quiet=QuietHours(enabled=False), risk=RiskRule(enabled=False))


# -- item 1 ----------------------------------------------------------------------------------------------------
def test_a_staff_task_counts_no_message_and_starts_no_cooldown_when_it_carries_no_coupon():
    write = write_for(Grant("c1", False, staff_task=True), PLAIN, NOON, TZ, task_key="run1:a")
    assert write.counters == () and write.cooldown_since is None and not write.coupon_message
    # A customer at the daily cap and inside a coupon message's cooldown still gets the task.
    state = {"md_20261124": 1, "cm": NOON.date().toordinal()}
    assert violations(state, write) == []


def test_a_staff_task_takes_the_plans_lock_with_its_delivery_and_an_expiry():
    write = write_for(Grant("c1", False, staff_task=True), PLAIN, NOON, TZ, task_key="run1:a")
    now = int(NOON.timestamp())
    assert (write.task, write.task_key, write.task_at) == (task_lock("c1"), "run1:a", now)
    after = apply({}, write)
    assert after[task_lock("c1")] == "run1:a" and after[task_lock("c1") + "u"] == now + TASK_LOCK_DAYS * 86400


def test_the_plans_next_task_is_refused_while_the_lock_holds_and_allowed_once_it_expired():
    earlier = write_for(Grant("c1", False, staff_task=True), PLAIN, NOON, TZ, task_key="run1:a")
    state = apply({}, earlier)
    lock = task_lock("c1")
    later = NOON + timedelta(days=TASK_LOCK_DAYS) - timedelta(seconds=1)
    assert violations(state, write_for(Grant("c1", False, staff_task=True), PLAIN, later, TZ, "run2:a")) == [
        STAFF_TASK_OPEN]
    expired = NOON + timedelta(days=TASK_LOCK_DAYS)
    assert violations(state, write_for(Grant("c1", False, staff_task=True), PLAIN, expired, TZ, "run3:a")) == []
    # Another plan's lock, or a message of this plan, is not limited by it.
    assert violations(state, write_for(Grant("c2", False, staff_task=True), PLAIN, later, TZ, "run4:a")) == []
    assert violations(state, write_for(Grant("c1", True), PLAIN, later, TZ)) == []
    assert lock in state and lock.startswith("tk_") and task_lock("c1") != task_lock("c2")


def test_a_completed_task_frees_the_lock_when_its_attribute_is_gone():
    state = apply({}, write_for(Grant("c1", False, staff_task=True), PLAIN, NOON, TZ, task_key="run1:a"))
    released = {k: v for k, v in state.items() if not k.startswith("tk_")}
    assert violations(released, write_for(Grant("c1", False, staff_task=True), PLAIN, NOON, TZ, "run2:a")) == []


# -- item 3 ----------------------------------------------------------------------------------------------------
def test_quiet_hours_defer_only_the_channels_they_list():
    quiet = QuietHours(True, time(21, 0), time(9, 0), frozenset({"inbox", "sms"}))
    release = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    assert quiet_until(NIGHT, TZ, quiet, "inbox") == release
    assert quiet_until(NIGHT, TZ, quiet, "wallet") is None
    assert quiet_until(NIGHT, TZ, quiet, "webhook") is None
    assert quiet_until(NIGHT, TZ, quiet) == release  # no channel named: the period itself


def test_the_default_quiet_channels_reach_a_person_and_the_setting_replaces_them():
    default = limits_of(MerchantSettings(), None).quiet.channels
    assert default == frozenset({"inbox", "sms", "email"})
    listed = MerchantSettings.model_validate({"quiet_hours": {"channels": ["webhook", "wallet", "webhook"]}})
    assert listed.quiet_hours.channels == ["wallet", "webhook"]
    assert limits_of(listed, None).quiet.channels == frozenset({"wallet", "webhook"})


# -- item 2 ----------------------------------------------------------------------------------------------------
def _settings(**guardrails: object) -> MerchantSettings:
    return MerchantSettings.model_validate({"guardrails": guardrails})


def test_a_campaign_cannot_loosen_any_cap_under_the_default_ceiling():
    g = MerchantSettings().guardrails
    assert {n: g.loosest(n) for n in CAPS_LARGER_IS_LOOSER} == {
        "daily_messages_per_customer": 1, "coupon_message_cooldown_days": 5,
        "weekly_store_coupons_per_customer": 1, "weekly_item_coupons_per_customer": 1}
    assert g.effective("weekly_store_coupons_per_customer", 7) == 1
    assert g.effective("coupon_message_cooldown_days", 0) == 5


def test_the_loosest_value_is_the_larger_of_setting_and_ceiling_for_a_cap_and_the_smaller_for_a_cooldown():
    g = _settings(weekly_store_coupons_per_customer=3, coupon_message_cooldown_days=2,
                  campaign_ceiling={"weekly_store_coupons_per_customer": 7, "coupon_message_cooldown_days": 4}
                  ).guardrails
    assert g.loosest("weekly_store_coupons_per_customer") == 7
    assert g.loosest("coupon_message_cooldown_days") == 2  # the setting is already shorter than the floor
    assert g.loosest("daily_messages_per_customer") == 1
    raised = _settings(weekly_item_coupons_per_customer=9).guardrails  # a shop-wide setting above the ceiling
    assert raised.loosest("weekly_item_coupons_per_customer") == 9


def test_an_override_within_the_ceiling_is_used_and_one_past_it_is_held_to_it_when_sending():
    s = _settings(campaign_ceiling={"weekly_store_coupons_per_customer": 7, "coupon_message_cooldown_days": 1})
    assert limits_of(s, {"weekly_store_coupons_per_customer": 5}).weekly_store == 5
    assert limits_of(s, {"weekly_store_coupons_per_customer": 9}).weekly_store == 7  # the ceiling was lowered
    assert limits_of(s, {"weekly_store_coupons_per_customer": 0}).weekly_store == 0  # stricter is always fine
    assert limits_of(s, {"coupon_message_cooldown_days": 0}).cooldown_days == 1
    assert limits_of(s, {"coupon_message_cooldown_days": 9}).cooldown_days == 9
    assert limits_of(s, {}).weekly_store == 1 and limits_of(s, {}).cooldown_days == 5


def test_check_guardrails_names_the_field_and_the_ceiling_when_an_override_is_too_loose():
    g = _settings(campaign_ceiling={"weekly_store_coupons_per_customer": 3}).guardrails
    check_guardrails(CampaignGuardrails(weekly_store_coupons_per_customer=3), g, "body.")
    try:
        check_guardrails(CampaignGuardrails(weekly_store_coupons_per_customer=4), g, "body.")
    except Invalid as exc:
        assert exc.field == "body.guardrails.weekly_store_coupons_per_customer"
        assert str(exc).startswith("at most 3: the merchant setting is 1")
        assert "settings.guardrails.campaign_ceiling.weekly_store_coupons_per_customer (3)" in str(exc)
    else:
        raise AssertionError("a looser override than the ceiling was accepted")
    try:
        check_guardrails(CampaignGuardrails(coupon_message_cooldown_days=4), g, "")
    except Invalid as exc:
        assert exc.field == "guardrails.coupon_message_cooldown_days" and str(exc).startswith("at least 5")
    else:
        raise AssertionError("a shorter cooldown than the floor was accepted")


def test_loosened_lists_only_the_overrides_looser_than_the_setting():
    g = _settings(campaign_ceiling={"weekly_store_coupons_per_customer": 7, "coupon_message_cooldown_days": 0}
                  ).guardrails
    assert loosened({"weekly_store_coupons_per_customer": 7, "coupon_message_cooldown_days": 2,
                     "daily_messages_per_customer": 1, "weekly_item_coupons_per_customer": 0}, g) == {
        "weekly_store_coupons_per_customer": {"setting": 1, "campaign": 7},
        "coupon_message_cooldown_days": {"setting": 5, "campaign": 2}}
    assert loosened(None, g) == {} and loosened({"weekly_store_coupons_per_customer": None}, g) == {}


def _replayed(frequency: dict[str, object], grant: Grant, limits: Limits) -> list[tuple[str, int, int]]:
    schedule = RecurringSchedule(start_date=date(2026, 11, 1), **frequency)  # type: ignore[arg-type]
    return [(w.code, w.sends, w.suppressed)
            for w in feasibility.check(schedule, "wallet", grant, limits, {}, TZ, NOON - timedelta(hours=2))]


def test_feasibility_counts_the_sends_a_weekly_cap_suppresses_for_a_daily_coupon_plan():
    daily = {"frequency": Frequency.DAILY, "time_of_day": time(11, 0)}
    assert _replayed(daily, Grant("c1", False, 1), PLAIN) == [("cap_weekly_store_coupon", 28, 23)]
    assert _replayed(daily, Grant("c1", False, 1), Limits(weekly_store=7, quiet=PLAIN.quiet, risk=PLAIN.risk)) == []
    weekly = {"frequency": Frequency.WEEKLY, "time_of_day": time(11, 0), "weekdays": (2,)}
    assert _replayed(weekly, Grant("c1", False, 1), PLAIN) == []


def test_feasibility_finds_the_cooldown_of_a_daily_coupon_message_and_a_grant_above_the_cap():
    daily = {"frequency": Frequency.DAILY, "time_of_day": time(11, 0)}
    loose = Limits(weekly_store=7, quiet=PLAIN.quiet, risk=PLAIN.risk)
    # A coupon message every day with a 5-day cooldown (none until day D+5): days 0, 5, ..., 25 of the 28 are sent.
    assert _replayed(daily, Grant("c1", True, 1), loose) == [("cap_cooldown", 28, 22)]
    once = feasibility.check(OnceSchedule(), "wallet", Grant("c1", False, 2), PLAIN, {}, TZ, NOON)
    assert [(w.code, w.sends, w.suppressed, w.field) for w in once] == [
        ("cap_weekly_store_coupon", 1, 1, "guardrails.weekly_store_coupons_per_customer")]
    assert "sends" not in once[0].message.split("of the 1 ")[1].split(" would")[0]


def test_feasibility_waits_a_quiet_hour_send_until_it_is_released():
    quiet = Limits(weekly_store=7, quiet=QuietHours(channels=frozenset({"inbox"})), risk=PLAIN.risk)
    nightly = RecurringSchedule(frequency=Frequency.DAILY, time_of_day=time(23, 0), start_date=date(2026, 11, 1))
    # 23:00 inbox messages are released at 09:00 the next day; the daily cap of one still holds for each day.
    assert feasibility.check(nightly, "inbox", Grant("c1", True), quiet, {}, TZ, NOON) == []
    assert feasibility.sends_of(TriggeredSchedule(TriggerEvent.BIRTHDAY), TZ, NOON) == []
