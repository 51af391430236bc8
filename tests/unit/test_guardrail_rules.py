"""The pure guardrail rules: caps hold for any history (property tests), local windows, quiet hours, risk, quotas."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.guardrails.rules import (
    CAP_COOLDOWN,
    CAP_WEEKLY_STORE,
    QUOTA_AUDIENCE_DAILY,
    QUOTA_AUDIENCE_MONTHLY,
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
    local_day,
    month_key,
    quiet_until,
    risk_interval,
    static_reason,
    violations,
    week_key,
    write_for,
)

TZ = "Asia/Shanghai"
START = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
NO_QUIET = QuietHours(enabled=False)

send = st.tuples(st.integers(0, 40),  # hours after the previous send
                 st.sampled_from(["c1", "c2", "c3"]),
                 st.booleans(),  # a message channel
                 st.integers(0, 2),  # store coupon units
                 st.integers(0, 2))  # item coupon units


@settings(max_examples=200, deadline=None)
@given(sends=st.lists(send, max_size=40), daily=st.integers(0, 3), cooldown=st.integers(0, 6),
       weekly=st.integers(0, 3), exclude=st.integers(0, 7))
def test_admitted_history_never_breaks_a_cap_when_any_sequence_of_sends(sends, daily, cooldown, weekly, exclude):
    limits = Limits(daily_messages=daily, cooldown_days=cooldown, weekly_store=weekly, weekly_item=weekly,
                    exclude_days=exclude, quiet=NO_QUIET, risk=RiskRule(enabled=False))
    state: dict = {}
    now = START
    admitted: list[tuple[date, str, bool, int, int]] = []
    for hours, campaign, message, store, item in sends:
        now += timedelta(hours=hours)
        write = write_for(Grant(campaign, message, store, item), limits, now, TZ)
        if static_reason(write) is None and not violations(state, write):
            state = apply(state, write)
            admitted.append((local_day(now, TZ), campaign, message, store, item))
    messages: dict[date, int] = defaultdict(int)
    store_weeks: dict[str, int] = defaultdict(int)
    item_weeks: dict[str, int] = defaultdict(int)
    for i, (day, campaign, message, store, item) in enumerate(admitted):
        earlier = admitted[:i]
        if message:
            messages[day] += 1
            assert messages[day] <= daily
            if cooldown:
                coupon_days = [d for d, _, m, s, it in earlier if m and s + it]
                assert all(d <= day - timedelta(days=cooldown) for d in coupon_days)
        store_weeks[week_key(day)] += store
        assert store_weeks[week_key(day)] <= weekly
        item_weeks[week_key(day)] += item
        assert item_weeks[week_key(day)] <= weekly
        if exclude:
            assert not any(c != campaign and d > day - timedelta(days=exclude) for d, c, *_ in earlier)


@settings(max_examples=150, deadline=None)
@given(sends=st.lists(send, max_size=25), probe=send)
def test_a_counter_reason_is_named_exactly_when_applying_would_pass_its_cap_when_any_state(sends, probe):
    limits = Limits(daily_messages=2, weekly_store=2, weekly_item=1, quiet=NO_QUIET, risk=RiskRule(enabled=False))
    state: dict = {}
    now = START
    for hours, campaign, message, store, item in sends:  # any state: writes applied whether they pass or not
        now += timedelta(hours=hours)
        state = apply(state, write_for(Grant(campaign, message, store, item), limits, now, TZ))
    hours, campaign, message, store, item = probe
    write = write_for(Grant(campaign, message, store, item), limits, now + timedelta(hours=hours), TZ)
    after = apply(state, write)
    found = violations(state, write)
    for counter in write.counters:
        assert (counter.reason in found) == (after[counter.name] > counter.cap)


def test_week_rolls_over_at_local_monday_midnight_when_utc_is_still_sunday():
    tz = ZoneInfo(TZ)
    sunday_late = datetime(2026, 11, 29, 23, 59, tzinfo=tz)
    monday = datetime(2026, 11, 30, 0, 0, tzinfo=tz)
    assert monday.astimezone(UTC).weekday() == 6  # still Sunday in UTC
    assert week_key(local_day(sunday_late, TZ)) != week_key(local_day(monday, TZ))
    assert week_key(local_day(monday, TZ)) == week_key(local_day(datetime(2026, 12, 6, 23, 59, tzinfo=tz), TZ))


def test_weekly_store_cap_resets_when_the_local_week_changes():
    limits = Limits(quiet=NO_QUIET, risk=RiskRule(enabled=False))
    tz = ZoneInfo(TZ)
    first = write_for(Grant("a", False, 1), limits, datetime(2026, 11, 29, 20, 0, tzinfo=tz), TZ)
    state = apply({}, first)
    same_week = write_for(Grant("b", False, 1), limits, datetime(2026, 11, 29, 23, 30, tzinfo=tz), TZ)
    next_week = write_for(Grant("b", False, 1), limits, datetime(2026, 11, 30, 0, 30, tzinfo=tz), TZ)
    assert violations(state, same_week) == [CAP_WEEKLY_STORE]
    assert violations(state, next_week) == []


def test_month_key_is_the_local_month_when_utc_is_still_the_previous_month():
    instant = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)  # 00:30 on 1 December in Shanghai
    assert month_key(local_day(instant, TZ)) == "2026-12"
    assert month_key(local_day(instant, "UTC")) == "2026-11"


@settings(max_examples=300, deadline=None)
@given(minutes=st.integers(0, 60 * 24 * 14), start=st.integers(0, 23), end=st.integers(0, 23),
       zone=st.sampled_from([TZ, "America/New_York", "Europe/London", "UTC"]))
def test_quiet_until_defers_exactly_inside_the_window_to_its_local_end_when_any_instant(minutes, start, end, zone):
    if start == end:
        return
    quiet = QuietHours(True, time(start), time(end))
    now = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    local = now.astimezone(ZoneInfo(zone)).time().replace(tzinfo=None)
    inside = (time(start) <= local < time(end)) if start < end else (local >= time(start) or local < time(end))
    until = quiet_until(now, zone, quiet)
    assert (until is not None) == inside
    if until is not None:
        assert until > now
        assert until - now <= timedelta(hours=25)
        released = until.astimezone(ZoneInfo(zone))
        if released.time() != time(end):  # only when `end` falls in a spring-forward gap: the first instant after
            assert (until - timedelta(hours=1)).astimezone(ZoneInfo(zone)).utcoffset() != released.utcoffset()
        assert quiet_until(until, zone, quiet) is None


def test_quiet_hours_release_at_nine_next_morning_when_sent_at_ten_pm():
    tz = ZoneInfo(TZ)
    until = quiet_until(datetime(2026, 11, 25, 22, 0, tzinfo=tz), TZ, QuietHours())
    assert until == datetime(2026, 11, 26, 9, 0, tzinfo=tz)
    assert quiet_until(datetime(2026, 11, 26, 7, 0, tzinfo=tz), TZ, QuietHours()) == until
    assert quiet_until(datetime(2026, 11, 26, 9, 0, tzinfo=tz), TZ, QuietHours()) is None


@settings(max_examples=300, deadline=None)
@given(claims=st.lists(st.integers(0, 100), max_size=12), redeemed=st.none() | st.integers(0, 100),
       k=st.integers(1, 5), w=st.integers(1, 20), probe=st.integers(0, 160))
def test_risk_interval_matches_the_rule_when_no_new_facts_arrive(claims, redeemed, k, w, probe):
    day = 86400
    rule = RiskRule(True, k, w)
    start, until = risk_interval([c * day for c in claims], None if redeemed is None else redeemed * day, rule)
    latest = max(claims + ([redeemed] if redeemed is not None else []), default=0)
    t = (latest + probe) * day  # only instants after every fact: the interval is recomputed when facts change
    recent = [c for c in claims if t - w * day < c * day <= t]
    expected = len(recent) >= k and not (redeemed is not None and t - w * day < redeemed * day <= t)
    assert in_risk({"rk_from": start, "rk_until": until}, t) == expected


@settings(max_examples=300, deadline=None)
@given(claims=st.lists(st.integers(0, 100), max_size=12), redeemed=st.none() | st.integers(0, 100),
       known=st.booleans(), k=st.integers(1, 5), w=st.integers(1, 20), probe=st.integers(0, 160))
def test_the_risk_verdict_matches_the_rule_when_the_redemption_arrives_before_or_after_the_claims(
        claims, redeemed, known, k, w, probe):
    # Claims store an interval computed with the redemption known then (or not yet); a redemption only moves
    # `rd` forward. The verdict dispatch applies must be the rule's either way.
    day = 86400
    rule = RiskRule(True, k, w)
    seen = redeemed * day if known and redeemed is not None else None
    start, until = risk_interval([c * day for c in claims], seen, rule)
    state = {"rk_from": start, "rk_until": until, **({"rd": redeemed * day} if redeemed is not None else {})}
    latest = max(claims + ([redeemed] if redeemed is not None else []), default=0)
    t = (latest + probe) * day
    recent = [c for c in claims if t - w * day < c * day <= t]
    expected = len(recent) >= k and not (redeemed is not None and t - w * day < redeemed * day <= t)
    write = CustomerWrite(campaign_id="c", today=0, risk_at=t, risk_window=w * day)
    assert (RISK in violations(state, write)) == expected


def test_allot_admits_in_order_until_the_month_quota_then_names_the_quota():
    limits = Limits(monthly_store=5, quiet=NO_QUIET)
    result = allot(["a", "b", "c", "d"], Grant("x", False, 2), limits, MonthState(store=1), MonthState(), "r")
    assert result.admitted == ["a", "b"]
    assert result.refused == {"c": QUOTA_MONTHLY_STORE, "d": QUOTA_MONTHLY_STORE}


def test_allot_refuses_an_audience_send_when_another_run_holds_the_day_or_the_month_is_full():
    limits = Limits(audience_per_month=2, quiet=NO_QUIET)
    grant = Grant("x", True, audience_id="aud")
    held = frozenset({"r0"})
    assert allot(["a"], grant, limits, MonthState(), MonthState(), "r1", held).refused == {"a": QUOTA_AUDIENCE_DAILY}
    assert allot(["a"], grant, limits, MonthState(), MonthState(), "r1", frozenset({"r1"})).admitted == ["a"]
    full = MonthState(audience_runs=frozenset({"r7", "r8"}))
    assert allot(["a"], grant, limits, MonthState(), full, "r1").refused == {"a": QUOTA_AUDIENCE_MONTHLY}
    assert allot(["a"], grant, limits, MonthState(), full, "r8", frozenset({"r8"})).admitted == ["a"]


def test_cooldown_blocks_messages_for_n_days_after_a_coupon_message_when_set():
    limits = Limits(cooldown_days=5, daily_messages=5, quiet=NO_QUIET, risk=RiskRule(enabled=False))
    tz = ZoneInfo(TZ)
    sent = datetime(2026, 11, 23, 10, 0, tzinfo=tz)
    state = apply({}, write_for(Grant("a", True, 1), limits, sent, TZ))
    for days, allowed in ((0, False), (4, False), (5, True)):
        later = write_for(Grant("b", True), limits, sent + timedelta(days=days), TZ)
        assert (violations(state, later) == []) is allowed, days
    assert CAP_COOLDOWN in violations(state, write_for(Grant("b", True), limits, sent + timedelta(days=4), TZ))
