"""Campaign definition rules no schema can say: coupons per issue, targets, timing, guardrail overrides."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib.audiences.rules import parse_rule
from chalicelib.campaigns.actions import MAX_COUPONS_PER_ISSUE, CampaignAction
from chalicelib.campaigns.model import to_schedule
from chalicelib.campaigns.schedule import OnceSchedule, RecurringSchedule, first_occurrence, local_to_utc, zone
from chalicelib.campaigns.schedule_triggered import Schedule, TriggeredSchedule
from chalicelib.campaigns.schemas import (
    CampaignGuardrails,
    CampaignIn,
    CustomersTarget,
    RuleTarget,
    StaffFriendsTarget,
)
from chalicelib.channels.needs import campaign_needs, settings_needs
from chalicelib.contents.render import TemplateError, template_variables
from chalicelib.core.errors import Invalid
from chalicelib.core.tx import TX_MAX_ITEMS
from chalicelib.tenancy.model import CAPS_LARGER_IS_LOOSER, Guardrails, MerchantSettings

CONTENT_CHANNELS = frozenset({"inbox", "sms", "email", "staff_task"})
# A once-at time this close behind the clock still counts as "now" (clock skew, slow clients).
PAST_GRACE = timedelta(minutes=1)


def validate_inline_rule(rule: dict[str, Any], path: str) -> None:
    """An inline target rule must be a valid audience rule; RuleError (400) names the exact path."""
    parse_rule(rule, path)


# A recipient's coupons are issued in one DynamoDB transaction (at most 100 items) together with what makes
# the issue exactly once and within its caps: the campaign gate, the chunk's ledger, the customer's guard item,
# the merchant's month counter, the audience's month and day counters, a quiet-hour deferral, and per template
# its stock counter and its per-customer-limit counter. Seed 004 allows 100 coupons per issue; 90 with one
# template is what fits without splitting a recipient over transactions (which would lose atomicity).
ITEMS_BESIDE_COUPONS = 8
ITEMS_PER_TEMPLATE = 2


def max_coupon_units(templates: int) -> int:
    """The most coupons one recipient can receive in one send with `templates` coupon templates."""
    return min(MAX_COUPONS_PER_ISSUE, TX_MAX_ITEMS - ITEMS_BESIDE_COUPONS - ITEMS_PER_TEMPLATE * max(1, templates))


def _check_action(action: CampaignAction, where: str) -> None:
    seen: set[str] = set()
    for i, line in enumerate(action.coupons):
        if line.coupon_id in seen:
            raise Invalid("coupon listed twice; raise its quantity instead", field=f"{where}coupons[{i}].coupon_id")
        seen.add(line.coupon_id)
    total = sum(line.quantity for line in action.coupons)
    most = max_coupon_units(len(action.coupons))
    if total > most:
        raise Invalid(f"one issue carries at most {most} coupons with {len(action.coupons)} template(s), got "
                      f"{total}: a recipient's coupons are issued in one transaction with its caps",
                      field=f"{where}coupons")
    if action.channel == "wallet" and not action.coupons:
        raise Invalid("the wallet channel needs at least one coupon", field=f"{where}coupons")
    if action.channel in CONTENT_CHANNELS and action.content_id is None:
        raise Invalid(f"required for the {action.channel} channel", field=f"{where}content_id")


def _check_unique(values: list[str], where: str, suffix: str = "") -> None:
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value in seen:
            raise Invalid("listed twice", field=f"{where}[{i}]{suffix}")
        seen.add(value)


def check_body(body: CampaignIn, where: str = "body.") -> Schedule:
    """Cross-field rules the schema cannot say; returns the schedule as schedule.py dataclasses."""
    for arm, arm_where in arm_bodies(body, where):
        _check_action(arm.action, f"{arm_where}action.")
    check_treatments(body, where)
    target = body.target
    if isinstance(target, RuleTarget):
        validate_inline_rule(target.rule, f"{where}target.rule")
    elif isinstance(target, CustomersTarget):
        _check_unique(target.customer_ids, f"{where}target.customer_ids")
    elif isinstance(target, StaffFriendsTarget):
        _check_unique(target.staff_ids, f"{where}target.staff_ids")
    return to_schedule(body.schedule, f"{where}schedule")


def arm_bodies(body: CampaignIn, where: str) -> list[tuple[CampaignIn, str]]:
    """The body, then per treatment the body with that treatment's action (checked at its path)."""
    return [(body, where), *((body.model_copy(update={"action": t.action, "treatments": None}),
                              f"{where}treatments[{i}].") for i, t in enumerate(body.treatments or ()))]


def check_treatments(body: CampaignIn, where: str) -> None:
    """Shares summing to 100, unique names, the action being the first treatment's, the experiment's options."""
    if body.treatments is None:
        if body.experiment is not None:
            raise Invalid("an experiment needs treatments", field=f"{where}experiment")
        return
    total = sum(t.share_percent for t in body.treatments)
    if total != 100:
        raise Invalid(f"shares must sum to 100 (of the recipients not held out), got {total}",
                      field=f"{where}treatments")
    _check_unique([t.name for t in body.treatments], f"{where}treatments", ".name")
    if body.action != body.treatments[0].action:
        raise Invalid("with treatments, leave action out (it is the first treatment's action)", field=f"{where}action")
    if body.experiment is not None and body.experiment.switch_to_winner and body.schedule.kind != "recurring":
        raise Invalid("only a recurring plan can switch to the winner for its later runs",
                      field=f"{where}experiment.switch_to_winner")


def check_guardrails(overrides: CampaignGuardrails, limits: Guardrails, where: str) -> None:
    """Per-campaign overrides may make the merchant's limits stricter, or looser up to the merchant's ceiling."""
    for name, larger_is_looser in CAPS_LARGER_IS_LOOSER.items():
        value, loosest = getattr(overrides, name), limits.loosest(name)
        if value is not None and (value > loosest if larger_is_looser else value < loosest):
            side = "at most" if larger_is_looser else "at least"
            raise Invalid(f"{side} {loosest}: the merchant setting is {getattr(limits, name)} and a campaign may "
                          f"loosen it only up to settings.guardrails.campaign_ceiling.{name} "
                          f"({getattr(limits.campaign_ceiling, name)})", field=f"{where}guardrails.{name}")


def loosened(overrides: dict[str, Any] | None, limits: Guardrails) -> dict[str, dict[str, int]]:
    """The overrides looser than the merchant's setting: {name: {"setting": s, "campaign": v}} (recorded on the
    campaign when it is activated, shown in its report)."""
    out: dict[str, dict[str, int]] = {}
    for name, larger_is_looser in CAPS_LARGER_IS_LOOSER.items():
        raw = (overrides or {}).get(name)
        if raw is None:
            continue
        setting, value = int(getattr(limits, name)), limits.effective(name, int(raw))
        if (value > setting) if larger_is_looser else (value < setting):
            out[name] = {"setting": setting, "campaign": value}
    return out


def first_run(schedule: Schedule, tz: str, now: datetime) -> datetime | None:
    """The first occurrence of a calendar schedule activated at `now` (None for triggered or exhausted)."""
    if isinstance(schedule, TriggeredSchedule):
        return None
    return first_occurrence(schedule, tz, now)


def check_timing(schedule: Schedule, tz: str, now: datetime, where: str) -> None:
    """A once-at time not in the past, a recurring schedule with an occurrence still to come."""
    if isinstance(schedule, OnceSchedule) and schedule.at is not None:
        at = schedule.at
        instant = at if at.utcoffset() is not None else local_to_utc(at.date(), at.time(), zone(tz))
        if instant < now - PAST_GRACE:
            raise Invalid("must not be in the past (null sends on activation)", field=f"{where}schedule.at")
    if isinstance(schedule, RecurringSchedule) and first_occurrence(schedule, tz, now) is None:
        raise Invalid("the schedule has no occurrence after now", field=f"{where}schedule.end_date")


def content_variables(content: dict[str, Any] | None) -> list[str]:
    """The variables a stored content template uses (text and subject)."""
    if content is None:
        return []
    try:
        return [*template_variables(str(content.get("text") or "")),
                *template_variables(str(content.get("subject") or ""))]
    except TemplateError:
        return []  # refused when the content was saved; nothing a campaign can add


def check_needs(body: CampaignIn, variables: list[str], settings: MerchantSettings | None, where: str) -> None:
    """Variables the campaign's coupons must fill, and (with `settings`, when a send is about to start) every
    setting its channel and content need: a send that would fail each recipient for a reason the merchant must
    fix is refused before it starts, naming the setting (`settings.claim_url`...)."""
    issues = campaign_needs(variables, len(body.action.coupons), where)
    if not issues and settings is not None:
        issues = settings_needs(body.action.channel, variables, settings)
    if issues:
        raise Invalid(issues[0].reason, field=issues[0].field, details=issues)
