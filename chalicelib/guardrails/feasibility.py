"""Can a plan's schedule deliver under its effective caps? (pure; a warning at activation, never a refusal)

A customer whom every send of the plan targets is the worst case the caps meet: the sends of the next weeks are
replayed on one guard item with the very rules dispatch applies (`write_for`, `violations`, `apply`), and each
cap that suppresses some of them becomes a warning naming the campaign's field and the merchant's ceiling.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.campaigns.schedule import OnceSchedule, RecurringSchedule, first_occurrence, next_occurrence
from chalicelib.campaigns.schedule_triggered import Schedule, TriggeredSchedule, TriggerEvent, touch_instants
from chalicelib.guardrails.rules import (
    CAP_COOLDOWN,
    CAP_DAILY,
    CAP_WEEKLY_ITEM,
    CAP_WEEKLY_STORE,
    Grant,
    Limits,
    apply,
    quiet_until,
    static_reason,
    violations,
    write_for,
)

HORIZON_DAYS = 28  # four local weeks: every weekly cap and the longest default cooldown meet a daily plan in it
MAX_SENDS = 200
# The campaign field (and merchant setting) behind each per-customer cap.
SETTING_OF = {CAP_DAILY: "daily_messages_per_customer", CAP_COOLDOWN: "coupon_message_cooldown_days",
              CAP_WEEKLY_STORE: "weekly_store_coupons_per_customer",
              CAP_WEEKLY_ITEM: "weekly_item_coupons_per_customer"}


@dataclass(frozen=True)
class Warning:
    """One finding: `code` the suppression reason, `field` the campaign body field that would change it."""

    code: str
    field: str
    message: str
    sends: int
    suppressed: int

    def to_doc(self) -> dict[str, Any]:
        return {"code": self.code, "field": self.field, "message": self.message, "sends": self.sends,
                "suppressed": self.suppressed}


def sends_of(schedule: Schedule, tz: str, now: datetime) -> list[datetime]:
    """The instants one customer is sent to by the plan from `now`: its occurrences over the horizon, or the
    touches one event at `now` makes (a birthday plan reaches a customer once a year: nothing to replay)."""
    if isinstance(schedule, TriggeredSchedule):
        return [] if schedule.event is TriggerEvent.BIRTHDAY else touch_instants(schedule, tz, now)[:MAX_SENDS]
    first = first_occurrence(schedule, tz, now)
    if first is None or isinstance(schedule, OnceSchedule):
        return [] if first is None else [first]
    out, end = [first], first + timedelta(days=HORIZON_DAYS)
    while isinstance(schedule, RecurringSchedule) and len(out) < MAX_SENDS \
            and (nxt := next_occurrence(schedule, tz, out[-1], now)) is not None and nxt < end:
        out.append(nxt)
    return out


def replay(instants: list[datetime], grant: Grant, limits: Limits, tz: str, channel: str
           ) -> tuple[int, Counter[str]]:
    """(sends delivered, suppressions by reason) for one customer targeted at every instant."""
    state: dict[str, Any] = {}
    suppressed: Counter[str] = Counter()
    delivered = 0
    for at in instants:
        at = quiet_until(at, tz, limits.quiet, channel) or at  # a deferred send goes out when quiet hours end
        write = write_for(grant, limits, at, tz, task_key=f"feasibility:{at.isoformat()}")
        static = static_reason(write)
        found = [static] if static else [r for r in violations(state, write) if r in SETTING_OF]
        if found:
            suppressed[found[0]] += 1
        else:
            state = apply(state, write)
            delivered += 1
    return delivered, suppressed


def check(schedule: Schedule | None, channel: str, grant: Grant, limits: Limits, ceiling: dict[str, int], tz: str,
          now: datetime) -> list[Warning]:
    """Warnings for the caps that keep a customer targeted by every send from receiving some of them."""
    if schedule is None:
        return []
    instants = sends_of(schedule, tz, now)
    if not instants:
        return []
    _, suppressed = replay(instants, grant, limits, tz, channel)
    total = len(instants)
    what = "touches one event makes" if isinstance(schedule, TriggeredSchedule) else (
        "send" if total == 1 else f"sends in the next {HORIZON_DAYS} days")
    out = []
    for reason, n in sorted(suppressed.items()):
        name = SETTING_OF[reason]
        value = getattr(limits, _LIMIT_ATTR[name])
        way = "down" if reason == CAP_COOLDOWN else "up"
        message = (f"{n} of the {total} {what} would be suppressed {reason} for a customer targeted by every one "
                   f"({name} = {value}); a campaign may set guardrails.{name} {way} to the merchant's ceiling "
                   f"{ceiling.get(name, value)} (settings.guardrails.campaign_ceiling.{name})")
        out.append(Warning(reason, f"guardrails.{name}", message, total, n))
    return out


_LIMIT_ATTR = {"daily_messages_per_customer": "daily_messages", "coupon_message_cooldown_days": "cooldown_days",
               "weekly_store_coupons_per_customer": "weekly_store",
               "weekly_item_coupons_per_customer": "weekly_item"}
