"""The guardrail rules at their exact edges: each cap, window and override on both sides of its boundary."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.guardrails.rules import (
    ANTI_HARASSMENT,
    CAP_COOLDOWN,
    CAP_DAILY,
    CAP_WEEKLY_ITEM,
    GUARD_TTL_DAYS,
    QUOTA_AUDIENCE_DAILY,
    QUOTA_MONTHLY_ITEM,
    QUOTA_MONTHLY_STORE,
    RISK,
    CustomerWrite,
    Grant,
    Limits,
    MonthState,
    QuietHours,
    RiskRule,
    allot,
    apply,
    in_risk,
    limits_of,
    prune_claims,
    quiet_until,
    risk_interval,
    violations,
    write_for,
)
from chalicelib.tenancy.model import MerchantSettings

TZ = "Asia/Shanghai"
ZONE = ZoneInfo(TZ)
DAY = 86400
NO_QUIET = QuietHours(enabled=False)
NOON = datetime(2026, 11, 25, 12, 0, tzinfo=ZONE)  # a Wednesday, ISO week 48
OFF = RiskRule(enabled=False)


def _limits(**kw: object) -> Limits:
    return Limits(**{"quiet": NO_QUIET, "risk": OFF, **kw})  # type: ignore[arg-type]


def _settings() -> MerchantSettings:
    return MerchantSettings.model_validate({
        "quiet_hours": {"enabled": True, "start": "22:15", "end": "07:45"},
        "guardrails": {"daily_messages_per_customer": 3, "coupon_message_cooldown_days": 4,
                       "weekly_store_coupons_per_customer": 2, "weekly_item_coupons_per_customer": 6,
                       "monthly_store_coupons": 700, "monthly_item_coupons": 800, "audience_sends_per_day": 2,
                       "audience_sends_per_month": 9, "risk": {"enabled": False, "min_claims": 7, "window_days": 11}}})


# -- effective limits -------------------------------------------------------------------------------
def test_limits_are_the_merchant_settings_field_by_field_when_the_campaign_overrides_nothing():
    assert limits_of(_settings(), None) == Limits(
        daily_messages=3, cooldown_days=4, weekly_store=2, weekly_item=6, exclude_days=0,
        quiet=QuietHours(True, time(22, 15), time(7, 45)), risk=RiskRule(False, 7, 11), monthly_store=700,
        monthly_item=800, audience_per_day=2, audience_per_month=9)


def test_the_risk_rule_is_the_merchants_when_it_is_on():
    assert limits_of(MerchantSettings(), None).risk == RiskRule(True, 5, 30)


def test_each_campaign_override_replaces_its_setting_and_a_null_override_keeps_the_setting():
    overrides = {"daily_messages_per_customer": 1, "coupon_message_cooldown_days": 9,
                 "weekly_store_coupons_per_customer": 0, "weekly_item_coupons_per_customer": None}
    limits = limits_of(_settings(), overrides)
    assert (limits.daily_messages, limits.cooldown_days, limits.weekly_store, limits.weekly_item) == (1, 9, 0, 6)


def test_quiet_hours_apply_unless_the_campaign_says_exactly_false():
    assert limits_of(_settings(), {"respect_quiet_hours": False}).quiet.enabled is False
    assert limits_of(_settings(), {"respect_quiet_hours": True}).quiet.enabled is True
    assert limits_of(_settings(), {"respect_quiet_hours": None}).quiet.enabled is True
    assert limits_of(_settings(), {}).quiet.enabled is True
    off = MerchantSettings.model_validate({"quiet_hours": {"enabled": False}})
    assert limits_of(off, {"respect_quiet_hours": True}).quiet.enabled is False


@pytest.mark.parametrize(("asked", "kept"), [(None, 0), (0, 0), (1, 1), (6, 6), (7, 7), (8, 7), (30, 7)])
def test_the_anti_harassment_window_is_clamped_to_seven_days(asked, kept):
    assert limits_of(_settings(), {"exclude_reached_within_days": asked}).exclude_days == kept


# -- quiet hours at their edges ---------------------------------------------------------------------
def test_quiet_hours_begin_exactly_at_their_start_and_end_exactly_at_their_end_when_they_wrap_midnight():
    quiet = QuietHours(True, time(21, 0), time(9, 0))
    at_start = datetime(2026, 11, 25, 21, 0, tzinfo=ZONE)
    assert quiet_until(at_start, TZ, quiet) == datetime(2026, 11, 26, 9, 0, tzinfo=ZONE)
    assert quiet_until(at_start - timedelta(minutes=1), TZ, quiet) is None
    assert quiet_until(datetime(2026, 11, 26, 8, 59, tzinfo=ZONE), TZ, quiet) == datetime(2026, 11, 26, 9, 0,
                                                                                           tzinfo=ZONE)


def test_quiet_hours_within_one_day_begin_at_start_and_release_the_same_day():
    quiet = QuietHours(True, time(12, 0), time(14, 0))
    assert quiet_until(NOON, TZ, quiet) == datetime(2026, 11, 25, 14, 0, tzinfo=ZONE)
    assert quiet_until(NOON - timedelta(seconds=1), TZ, quiet) is None
    assert quiet_until(datetime(2026, 11, 25, 14, 0, tzinfo=ZONE), TZ, quiet) is None


def test_quiet_hours_with_equal_start_and_end_never_defer():
    assert quiet_until(NOON, TZ, QuietHours(True, time(12, 0), time(12, 0))) is None


# -- the per-customer write ---------------------------------------------------------------------------
def test_a_send_counts_in_counters_named_by_its_local_day_and_iso_week():
    after = apply({}, write_for(Grant("c1", True, 1, 2), _limits(weekly_item=2), NOON, TZ))
    assert {k: v for k, v in after.items() if k != "expires_at"} == {
        "md_20261125": 1, "ws_2026W48": 1, "wi_2026W48": 2, "rc_20261125": {"c1"}, "cm": NOON.date().toordinal()}


def test_the_guard_item_expires_its_ttl_after_the_send():
    write = write_for(Grant("c1", True), _limits(), NOON, TZ)
    assert write.expires_at == int(NOON.timestamp()) + GUARD_TTL_DAYS * DAY
    assert apply({"expires_at": 1}, write)["expires_at"] == write.expires_at


def test_a_write_drops_the_counters_of_the_windows_that_just_ended():
    state = {"md_20261124": 1, "md_20261123": 1, "ws_2026W47": 1, "ws_2026W46": 1, "wi_2026W47": 1,
             "rc_20261118": {"x"}, "rc_20261119": {"y"}, "rc_20261117": {"z"}}
    after = apply(state, write_for(Grant("c1", True, 1, 1), _limits(), NOON, TZ))
    gone = {"md_20261124", "ws_2026W47", "wi_2026W47", "rc_20261118"}
    assert gone.isdisjoint(after)
    assert {"md_20261123", "ws_2026W46", "rc_20261119", "rc_20261117"} <= set(after)


def test_a_message_counts_once_so_the_daily_cap_allows_exactly_that_many_messages():
    limits = _limits(daily_messages=2, cooldown_days=0)
    state: dict = {}
    verdicts = []
    for hour in range(3):
        write = write_for(Grant(f"c{hour}", True), limits, NOON + timedelta(hours=hour), TZ)
        verdicts.append(violations(state, write))
        state = apply(state, write)
    assert verdicts == [[], [], [CAP_DAILY]]


def test_the_daily_cap_starts_again_the_next_local_day():
    limits = _limits(daily_messages=1, cooldown_days=0)
    state = apply({}, write_for(Grant("c1", True), limits, NOON, TZ))
    midnight = datetime(2026, 11, 26, 0, 0, tzinfo=ZONE)
    assert violations(state, write_for(Grant("c2", True), limits, midnight - timedelta(seconds=1), TZ)) == [CAP_DAILY]
    assert violations(state, write_for(Grant("c2", True), limits, midnight, TZ)) == []


def test_the_weekly_item_cap_counts_units_already_issued_this_week():
    limits = _limits(weekly_item=2)
    state = apply({}, write_for(Grant("c1", False, 0, 1), limits, NOON, TZ))
    assert violations(state, write_for(Grant("c2", False, 0, 1), limits, NOON, TZ)) == []
    assert violations(state, write_for(Grant("c2", False, 0, 2), limits, NOON, TZ)) == [CAP_WEEKLY_ITEM]


# -- the coupon-message cooldown ---------------------------------------------------------------------------
def test_a_wallet_issue_sends_no_message_so_it_neither_starts_nor_waits_for_the_cooldown():
    limits = _limits(cooldown_days=5, daily_messages=5, weekly_store=5)
    wallet = write_for(Grant("w", False, 1), limits, NOON, TZ)
    assert wallet.cooldown_since is None and not wallet.coupon_message
    assert "cm" not in apply({}, wallet)
    after_message = apply({}, write_for(Grant("m", True, 1), limits, NOON, TZ))
    assert violations(after_message, write_for(Grant("w", False, 1), limits, NOON + timedelta(hours=1), TZ)) == []


def test_a_message_without_coupons_does_not_start_the_cooldown():
    limits = _limits(cooldown_days=5, daily_messages=5)
    state = apply({}, write_for(Grant("a", True), limits, NOON, TZ))
    assert "cm" not in state
    assert violations(state, write_for(Grant("b", True, 1), limits, NOON + timedelta(hours=1), TZ)) == []


def test_a_one_day_cooldown_blocks_the_rest_of_the_day_and_frees_the_next():
    limits = _limits(cooldown_days=1, daily_messages=5, weekly_store=5)
    state = apply({}, write_for(Grant("a", True, 1), limits, NOON, TZ))
    assert violations(state, write_for(Grant("b", True), limits, NOON + timedelta(hours=1), TZ)) == [CAP_COOLDOWN]
    assert violations(state, write_for(Grant("b", True), limits, NOON + timedelta(days=1), TZ)) == []


def test_without_a_cooldown_coupon_messages_wait_only_for_the_daily_cap():
    limits = _limits(cooldown_days=0, daily_messages=2, weekly_store=5)
    state = apply({}, write_for(Grant("a", True, 1), limits, NOON, TZ))
    assert state["cm"] == NOON.date().toordinal()
    assert violations(state, write_for(Grant("b", True, 1), limits, NOON + timedelta(hours=1), TZ)) == []


def test_a_coupon_message_is_refused_when_a_later_days_coupon_message_committed_first():
    limits = _limits(cooldown_days=0, daily_messages=2, weekly_store=5)
    later = apply({}, write_for(Grant("a", True, 1), limits, NOON + timedelta(days=1), TZ))
    assert violations(later, write_for(Grant("b", True, 1), limits, NOON, TZ)) == [CAP_COOLDOWN]
    assert violations(later, write_for(Grant("b", True), limits, NOON, TZ)) == []


# -- anti-harassment ------------------------------------------------------------------------------------
def test_anti_harassment_excludes_only_customers_another_campaign_reached_inside_the_window():
    limits = _limits(exclude_days=3, daily_messages=9, cooldown_days=0)
    probe = write_for(Grant("mine", True), limits, NOON, TZ)
    assert violations({}, probe) == []
    assert violations({"rc_20261125": {"mine"}, "rc_20261123": {"mine"}}, probe) == []
    assert violations({"rc_20261123": {"other"}}, probe) == [ANTI_HARASSMENT]
    assert violations({"rc_20261122": {"other"}}, probe) == []
    assert violations({"rc_20261125": {"mine", "other"}}, probe) == [ANTI_HARASSMENT]


def test_a_send_adds_its_campaign_to_the_days_reach_set_beside_the_others():
    after = apply({"rc_20261125": {"other"}}, write_for(Grant("mine", False), _limits(), NOON, TZ))
    assert after["rc_20261125"] == {"other", "mine"}


# -- risk ---------------------------------------------------------------------------------------------------
def test_a_send_checks_the_risk_rule_at_its_own_instant_over_the_rules_window():
    write = write_for(Grant("c", True), _limits(risk=RiskRule(True, 5, 30)), NOON, TZ)
    assert (write.risk_at, write.risk_window) == (int(NOON.timestamp()), 30 * DAY)
    assert write_for(Grant("c", True), _limits(risk=RiskRule(False, 5, 30)), NOON, TZ).risk_at is None


def test_the_stored_risk_interval_holds_from_its_start_and_not_at_its_end():
    state = {"rk_from": 100, "rk_until": 200}
    assert [in_risk(state, t) for t in (99, 100, 199, 200)] == [False, True, True, False]
    assert in_risk({"rk_until": 200}, 0) is True
    assert in_risk({"rk_from": 0, "rk_until": 0}, 0) is False


@pytest.mark.parametrize(("redeemed_ago", "flagged"), [(None, True), (30 * DAY, True), (30 * DAY - 1, False),
                                                        (0, False), (-1, True)])
def test_a_redemption_clears_the_risk_rule_only_within_the_window_before_the_send(redeemed_ago, flagged):
    at = 1_000 * DAY
    state = {"rk_from": 0, "rk_until": at + DAY}
    if redeemed_ago is not None:
        state["rd"] = at - redeemed_ago
    write = CustomerWrite(campaign_id="c", today=0, risk_at=at, risk_window=30 * DAY)
    assert (violations(state, write) == [RISK]) is flagged


def test_risk_interval_starts_when_a_redemption_is_a_window_old_and_ends_when_the_kth_claim_is():
    rule = RiskRule(True, 2, 10)
    claims = [50 * DAY, 40 * DAY, 45 * DAY]
    assert risk_interval(claims, None, rule) == (0, 55 * DAY)
    assert risk_interval(claims, 41 * DAY, rule) == (51 * DAY, 55 * DAY)
    assert risk_interval(claims, 45 * DAY, rule) == (0, 0)  # the redemption clears it until the 2nd claim ages
    assert risk_interval(claims, 46 * DAY, rule) == (0, 0)


def test_risk_interval_cannot_hold_with_fewer_claims_than_the_rule_or_the_rule_off():
    assert risk_interval([1, 2, 3, 4], None, RiskRule(True, 5, 30)) == (0, 0)
    assert risk_interval([1, 2, 3, 4, 5], None, RiskRule(True, 5, 30)) == (0, 1 + 30 * DAY)
    assert risk_interval([1, 2, 3, 4, 5], None, RiskRule(False, 5, 30)) == (0, 0)


def test_prune_claims_keeps_claims_younger_than_the_window_newest_first():
    now = datetime(2026, 11, 25, tzinfo=UTC)
    t = int(now.timestamp())
    claims = [t - 30 * DAY, t - 30 * DAY + 1, t, t - DAY, t - 31 * DAY]
    assert prune_claims(claims, now, RiskRule(True, 5, 30)) == [t, t - DAY, t - 30 * DAY + 1]


# -- merchant quotas --------------------------------------------------------------------------------------
def test_the_monthly_item_quota_counts_coupons_already_issued_that_month():
    limits = _limits(monthly_item=5)
    result = allot(["a", "b", "c"], Grant("x", False, 0, 2), limits, MonthState(item=1), MonthState(), "r")
    assert result.admitted == ["a", "b"]
    assert result.refused == {"c": QUOTA_MONTHLY_ITEM}


def test_a_grant_that_exactly_fills_the_monthly_quota_is_admitted():
    limits = _limits(monthly_item=4, monthly_store=3)
    result = allot(["a", "b"], Grant("x", False, 3, 4), limits, MonthState(), MonthState(), "r")
    assert (result.admitted, result.refused) == (["a"], {"b": QUOTA_MONTHLY_STORE})


def test_an_audience_quota_of_zero_sends_a_day_refuses_every_audience_send():
    grant = Grant("x", True, audience_id="aud")
    refused = allot(["a", "b"], grant, _limits(audience_per_day=0), MonthState(), MonthState(), "r").refused
    assert refused == {"a": QUOTA_AUDIENCE_DAILY, "b": QUOTA_AUDIENCE_DAILY}
    assert allot(["a"], grant, _limits(audience_per_day=1), MonthState(), MonthState(), "r").admitted == ["a"]


def test_an_audience_quota_of_several_sends_a_day_admits_that_many_runs_and_each_holder_again():
    grant, limits = Grant("x", True, audience_id="aud"), _limits(audience_per_day=3)
    two, three = frozenset({"r0", "r1"}), frozenset({"r0", "r1", "r2"})
    assert allot(["a"], grant, limits, MonthState(), MonthState(), "r2", two).admitted == ["a"]
    assert allot(["a"], grant, limits, MonthState(), MonthState(), "r3", three).refused == {"a": QUOTA_AUDIENCE_DAILY}
    assert allot(["a"], grant, limits, MonthState(), MonthState(), "r1", three).admitted == ["a"]

