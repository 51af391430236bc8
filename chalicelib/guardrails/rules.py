"""Pure guardrail rules: effective limits, local windows, quiet hours, and the per-customer counter semantics.

The per-customer guard item is updated without reading it first: every cap is a counter whose window is in its
attribute name (`md_20261123` = marketing messages on that local day, `ws_2026W48` = store coupons in that local
ISO week), so "increment if below the cap" is one conditional update that holds under any interleaving. The same
semantics are evaluated here on a plain dict (`violations`, `apply`) to explain a failed condition and to be
property-tested; the store turns a `CustomerWrite` into the equivalent DynamoDB update.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.campaigns.schedule import local_to_utc
from chalicelib.dispatch.model import CONTACT_TTL_DAYS

# Suppression reasons (SPEC §8; recorded in the ledger and shown by run progress and reports).
RISK = "risk"
ANTI_HARASSMENT = "anti_harassment"
CAP_DAILY = "cap_daily"
CAP_COOLDOWN = "cap_cooldown"
CAP_WEEKLY_STORE = "cap_weekly_store_coupon"
CAP_WEEKLY_ITEM = "cap_weekly_item_coupon"
QUOTA_MONTHLY_STORE = "quota_monthly_store_coupon"
QUOTA_MONTHLY_ITEM = "quota_monthly_item_coupon"
QUOTA_AUDIENCE_DAILY = "quota_audience_daily"
QUOTA_AUDIENCE_MONTHLY = "quota_audience_monthly"
STAFF_TASK_OPEN = "staff_task_open"  # the staff-side limit: one open follow-up task per customer per plan
# The order in which a customer's violations are reported (the first one is the recorded reason).
PRECEDENCE = (RISK, ANTI_HARASSMENT, CAP_DAILY, CAP_COOLDOWN, CAP_WEEKLY_STORE, CAP_WEEKLY_ITEM, STAFF_TASK_OPEN)

# Channels that put a message in front of the customer (a direct-to-wallet issue sends none: 002 "无消息提醒"; a
# staff follow-up task is a to-do for an employee, not a message: the customer's message caps do not apply to it).
MESSAGE_CHANNELS = frozenset({"inbox", "sms", "email", "webhook"})
STAFF_TASK = "staff_task"
# Channels quiet hours defer unless the merchant lists others (settings quiet_hours.channels): those that reach a
# person at once. A wallet issue notifies nobody; a staff task waits in the staff member's list.
QUIET_CHANNELS_DEFAULT = ("inbox", "sms", "email")
# An open task blocks the plan's next task for the same customer until it is completed, or this long at most (a
# task nobody completes must not silence the plan for that customer forever).
TASK_LOCK_DAYS = 30
ITEM_KIND = "item_discount"
MAX_EXCLUDE_DAYS = 7  # anti-harassment window limit (001)
REACH_DAYS_KEPT = MAX_EXCLUDE_DAYS
# Windows that just ended, removed by each write (each removal is an expression clause). A customer left alone
# for longer keeps a few dead counters until the item's TTL; they never count again (their names are old).
STALE_DAYS = 1
STALE_WEEKS = 1
GUARD_TTL_DAYS = CONTACT_TTL_DAYS  # the item (its risk facts span up to a year) goes when the customer is left alone


@dataclass(frozen=True)
class QuietHours:
    enabled: bool = True
    start: time = time(21, 0)
    end: time = time(9, 0)
    channels: frozenset[str] = frozenset(QUIET_CHANNELS_DEFAULT)  # the channels it defers


@dataclass(frozen=True)
class RiskRule:
    enabled: bool = True
    min_claims: int = 5
    window_days: int = 30


@dataclass(frozen=True)
class Limits:
    """The limits one campaign sends under: merchant settings with the campaign's (stricter) overrides."""

    daily_messages: int = 1
    cooldown_days: int = 5
    weekly_store: int = 1
    weekly_item: int = 1
    exclude_days: int = 0
    quiet: QuietHours = QuietHours()
    risk: RiskRule = RiskRule()
    monthly_store: int = 5000
    monthly_item: int = 5000
    audience_per_day: int = 1
    audience_per_month: int = 60


@dataclass(frozen=True)
class Grant:
    """What one recipient of the campaign gets: a message or not, and coupon units by kind."""

    campaign_id: str
    message: bool
    store_units: int = 0
    item_units: int = 0
    audience_id: str | None = None  # an audience send (counts toward the audience quotas)
    staff_task: bool = False  # a staff follow-up task: no message caps, one open task per customer and plan

    @property
    def coupon_message(self) -> bool:
        return self.message and (self.store_units + self.item_units) > 0


def _hhmm(text: str) -> time:
    hour, minute = text.split(":")
    return time(int(hour), int(minute))


def limits_of(settings: Any, overrides: Mapping[str, Any] | None) -> Limits:
    """Merchant settings (tenancy MerchantSettings) with a campaign's `guardrails` block applied."""
    g, o = settings.guardrails, dict(overrides or {})

    def pick(name: str) -> int:
        value = o.get(name)
        return int(g.effective(name, None if value is None else int(value)))

    quiet = settings.quiet_hours
    respect = o.get("respect_quiet_hours", True) is not False
    channels = getattr(quiet, "channels", None)
    return Limits(
        daily_messages=pick("daily_messages_per_customer"), cooldown_days=pick("coupon_message_cooldown_days"),
        weekly_store=pick("weekly_store_coupons_per_customer"), weekly_item=pick("weekly_item_coupons_per_customer"),
        exclude_days=min(MAX_EXCLUDE_DAYS, int(o.get("exclude_reached_within_days") or 0)),
        quiet=QuietHours(bool(quiet.enabled) and respect, _hhmm(quiet.start), _hhmm(quiet.end),
                         frozenset(QUIET_CHANNELS_DEFAULT if channels is None else channels)),
        risk=RiskRule(bool(g.risk.enabled), int(g.risk.min_claims), int(g.risk.window_days)),
        monthly_store=int(g.monthly_store_coupons), monthly_item=int(g.monthly_item_coupons),
        audience_per_day=int(g.audience_sends_per_day), audience_per_month=int(g.audience_sends_per_month))


# -- local windows ---------------------------------------------------------------------------------
def local_day(now: datetime, tz: str) -> date:
    return now.astimezone(ZoneInfo(tz)).date()


def day_key(day: date) -> str:
    return day.strftime("%Y%m%d")


def week_key(day: date) -> str:
    """The local ISO week (Monday to Sunday) holding `day`."""
    year, week, _ = day.isocalendar()
    return f"{year}W{week:02d}"


def month_key(day: date) -> str:
    return day.strftime("%Y-%m")


def quiet_until(now: datetime, tz: str, quiet: QuietHours, channel: str | None = None) -> datetime | None:
    """The end of the quiet period `now` falls in (the instant a deferred send is released), else None; a
    `channel` quiet hours do not defer (settings quiet_hours.channels) is never deferred."""
    if not quiet.enabled or quiet.start == quiet.end or (channel is not None and channel not in quiet.channels):
        return None
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    wall, today = local.time().replace(tzinfo=None), local.date()
    if quiet.start < quiet.end:  # pragma: no mutate -- equivalent: `<=` differs only at start == end (returned)
        inside, end_day = quiet.start <= wall < quiet.end, today
    else:  # wraps midnight, e.g. 21:00-09:00
        inside = wall >= quiet.start or wall < quiet.end
        end_day = today + timedelta(days=1) if wall >= quiet.start else today
    if not inside:
        return None
    return local_to_utc(end_day, quiet.end, zone)


# -- the per-customer write ------------------------------------------------------------------------
@dataclass(frozen=True)
class Counter:
    """A windowed counter: `name` carries its window; the write adds `add` only while the sum stays ≤ `cap`."""

    name: str
    add: int
    cap: int
    reason: str
    stale: tuple[str, ...] = ()


@dataclass(frozen=True)
class CustomerWrite:
    """Everything one send does to one customer's guard item, as conditions and updates."""

    campaign_id: str
    today: int  # local day ordinal
    counters: tuple[Counter, ...] = ()
    cooldown_since: int | None = None  # a message needs the last coupon message on or before this ordinal
    coupon_message: bool = False  # records `cm` = today (monotonic: never behind an existing value)
    exclude: tuple[str, ...] = ()  # reach-set names of the anti-harassment window: only this campaign in them
    reach: str = ""  # this send's reach-set name (always marked: other campaigns' exclusions read it)
    reach_stale: tuple[str, ...] = ()
    risk_at: int | None = None  # epoch seconds: the customer must not be inside a risk interval then
    risk_window: int = 0  # seconds: a redemption within this long before `risk_at` clears the rule
    expires_at: int = 0
    task: str = ""  # staff tasks: the lock attribute of this plan (`tk_...`), empty for other channels
    task_key: str = ""  # the delivery the task belongs to: the lock's value (its completion releases it)
    task_at: int = 0  # epoch seconds: a lock whose expiry (`task` + "u") is at or before this no longer holds


def task_lock(campaign_id: str) -> str:
    """The guard-item attribute holding a plan's open staff task for the customer (its expiry: the name + "u")."""
    return "tk_" + hashlib.sha256(campaign_id.encode()).hexdigest()[:12]


def write_for(grant: Grant, limits: Limits, now: datetime, tz: str, task_key: str = "") -> CustomerWrite:
    """The guard-item write of one recipient of `grant` at `now` (local windows in the merchant's zone);
    `task_key` is the recipient's delivery key when the grant is a staff task."""
    day = local_day(now, tz)
    week = week_key(day)
    counters: list[Counter] = []
    if grant.message:
        counters.append(Counter(f"md_{day_key(day)}", 1, limits.daily_messages, CAP_DAILY,
                                tuple(f"md_{day_key(day - timedelta(days=i))}" for i in range(1, STALE_DAYS + 1))))
    old_weeks = [week_key(day - timedelta(weeks=i)) for i in range(1, STALE_WEEKS + 1)]
    if grant.store_units:
        counters.append(Counter(f"ws_{week}", grant.store_units, limits.weekly_store, CAP_WEEKLY_STORE,
                                tuple(f"ws_{w}" for w in old_weeks)))
    if grant.item_units:
        counters.append(Counter(f"wi_{week}", grant.item_units, limits.weekly_item, CAP_WEEKLY_ITEM,
                                tuple(f"wi_{w}" for w in old_weeks)))
    ordinal = day.toordinal()
    exclude = tuple(f"rc_{day_key(day - timedelta(days=i))}" for i in range(limits.exclude_days))
    return CustomerWrite(
        campaign_id=grant.campaign_id, today=ordinal, counters=tuple(counters),
        cooldown_since=ordinal - limits.cooldown_days if grant.message and limits.cooldown_days > 0 else None,
        coupon_message=grant.coupon_message, exclude=exclude, reach=f"rc_{day_key(day)}",
        reach_stale=tuple(f"rc_{day_key(day - timedelta(days=i))}"
                          for i in range(REACH_DAYS_KEPT, REACH_DAYS_KEPT + STALE_DAYS)),
        risk_at=int(now.timestamp()) if limits.risk.enabled else None,
        risk_window=limits.risk.window_days * 86400,
        expires_at=int(now.timestamp()) + GUARD_TTL_DAYS * 86400,
        task=task_lock(grant.campaign_id) if grant.staff_task else "", task_key=task_key if grant.staff_task else "",
        task_at=int(now.timestamp()) if grant.staff_task else 0)


def static_reason(write: CustomerWrite) -> str | None:
    """A verdict that needs no state: one send alone is above a cap (e.g. 2 store coupons, weekly cap 1)."""
    for counter in write.counters:
        if counter.add > counter.cap:
            return counter.reason
    return None


def _num(state: Mapping[str, Any], name: str) -> int | None:
    value = state.get(name)
    return None if value is None else int(value)


def violations(state: Mapping[str, Any], write: CustomerWrite) -> list[str]:
    """The reasons `write`'s conditions fail on `state` (the guard item as a dict), in PRECEDENCE order."""
    found: set[str] = set()
    if write.risk_at is not None and in_risk(state, write.risk_at) \
            and not redeemed_within(state, write.risk_at, write.risk_window):
        found.add(RISK)
    for name in write.exclude:
        members = set(state.get(name) or ())
        if members and members != {write.campaign_id}:
            found.add(ANTI_HARASSMENT)
    for counter in write.counters:
        current = _num(state, counter.name) or 0
        if current + counter.add > counter.cap:
            found.add(counter.reason)
    if write.task and state.get(write.task) is not None and (_num(state, write.task + "u") or 0) > write.task_at:
        found.add(STAFF_TASK_OPEN)
    last = _num(state, "cm")
    if last is not None:
        if write.cooldown_since is not None and last > write.cooldown_since:
            found.add(CAP_COOLDOWN)
        if write.coupon_message and last > write.today:  # a later day's coupon message committed first
            found.add(CAP_COOLDOWN)
    return [r for r in PRECEDENCE if r in found]


def apply(state: Mapping[str, Any], write: CustomerWrite) -> dict[str, Any]:
    """The guard item after `write` (which must pass): what the DynamoDB update does, on a dict."""
    out = dict(state)
    for counter in write.counters:
        out[counter.name] = (_num(out, counter.name) or 0) + counter.add
        for name in counter.stale:
            out.pop(name, None)
    if write.coupon_message:
        out["cm"] = write.today
    out[write.reach] = set(out.get(write.reach) or ()) | {write.campaign_id}
    for name in write.reach_stale:
        out.pop(name, None)
    if write.task:
        out[write.task], out[write.task + "u"] = write.task_key, write.task_at + TASK_LOCK_DAYS * 86400
    out["expires_at"] = write.expires_at
    return out


# -- risk ------------------------------------------------------------------------------------------
def in_risk(state: Mapping[str, Any], at: int) -> bool:
    """Inside the stored risk interval [rk_from, rk_until) (computed by `risk_interval` when facts change)."""
    until = _num(state, "rk_until")
    return until is not None and at < until and (_num(state, "rk_from") or 0) <= at


def redeemed_within(state: Mapping[str, Any], at: int, window: int) -> bool:
    """The last redemption `rd` lies in (at - window, at]: the rule cannot hold at `at` whatever the claims.

    Redemptions are recorded by moving `rd` forward alone (one conditional write, no read), so the stored
    interval may predate the latest one; dispatch checks both.
    """
    rd = _num(state, "rd")
    return rd is not None and at - window < rd <= at


def risk_interval(claims: Sequence[int], redeemed_at: int | None, rule: RiskRule) -> tuple[int, int]:
    """When "claimed ≥ K coupons and redeemed none within W days" holds, given no new facts: [from, until).

    The K-th most recent claim keeps the count at K or more until it is W days old; a redemption clears the
    rule until it is W days old. (0, 0) when the rule cannot hold.
    """
    if not rule.enabled or len(claims) < rule.min_claims:
        return 0, 0
    window = rule.window_days * 86400
    kth = sorted(claims, reverse=True)[rule.min_claims - 1]
    start = redeemed_at + window if redeemed_at is not None else 0
    until = kth + window
    return (start, until) if start < until else (0, 0)


def prune_claims(claims: Sequence[int], now: datetime, rule: RiskRule) -> list[int]:
    """Claims still inside the rule's window (older ones can never count again)."""
    oldest = int(now.timestamp()) - rule.window_days * 86400
    return sorted((c for c in claims if c > oldest), reverse=True)


# -- merchant quotas -------------------------------------------------------------------------------
@dataclass(frozen=True)
class MonthState:
    """A merchant's month: coupon units issued in it (local month of issue) and the audience sends counted in it
    (local month of the send's occurrence)."""

    store: int = 0
    item: int = 0
    audience_runs: frozenset[str] = frozenset()


@dataclass
class Allotment:
    """Who of the sending customers fits the merchant's remaining quotas, and why the others do not."""

    admitted: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)


def allot(customers: Sequence[str], grant: Grant, limits: Limits, month: MonthState, sends: MonthState,
          run_id: str, day_runs: frozenset[str] = frozenset()) -> Allotment:
    """Admit customers in order while the month's coupon quotas (`month`) and audience quotas (`sends`, the
    the runs holding the day's sends of the audience, `day_runs`) allow."""
    out = Allotment()
    if grant.audience_id is not None:
        reason = None
        if run_id not in day_runs and len(day_runs) >= limits.audience_per_day:
            reason = QUOTA_AUDIENCE_DAILY
        elif run_id not in sends.audience_runs and len(sends.audience_runs) >= limits.audience_per_month:
            reason = QUOTA_AUDIENCE_MONTHLY
        if reason is not None:
            out.refused = dict.fromkeys(customers, reason)
            return out
    store_left, item_left = limits.monthly_store - month.store, limits.monthly_item - month.item
    for cid in customers:
        if grant.store_units > store_left:
            out.refused[cid] = QUOTA_MONTHLY_STORE
        elif grant.item_units > item_left:
            out.refused[cid] = QUOTA_MONTHLY_ITEM
        else:
            store_left -= grant.store_units
            item_left -= grant.item_units
            out.admitted.append(cid)
    return out
