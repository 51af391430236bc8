"""HTTP bodies of the campaign routes: the campaign definition, its patch, list query and answers."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from chalicelib.audiences.rule_schema import RuleJson
from chalicelib.campaigns.actions import (
    MAX_TREATMENTS,
    MIN_TREATMENTS,
    CampaignAction,
    Channel,
    ExperimentIn,
    Id,
    SwitchEvent,
    Treatment,
    action_optional,
    first_action,
)
from chalicelib.campaigns.lifecycle import State
from chalicelib.campaigns.schedule_triggered import MAX_DELAY_DAYS, MAX_LOOKBACK_DAYS
from chalicelib.core.basemodel import Model
from chalicelib.core.clock import to_iso
from chalicelib.core.schemas import Body, ListQuery, check_day, check_instant

MAX_CUSTOMERS = 10_000
MAX_STAFF = 200
MAX_ITEMS = 500
HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

TriggerEventName = Literal["purchase", "purchase_items", "service_completed", "card_used", "order_cancelled",
                           "order_timed_out", "fan_level_up", "registration", "birthday", "first_visit"]


def _rebuild(exc: ValidationError, fix: Callable[[tuple[str | int, ...]], tuple[str | int, ...]]) -> ValidationError:
    """The same errors with their locations rewritten by `fix`."""
    details = [InitErrorDetails(type=PydanticCustomError(err["type"], err["msg"]), loc=fix(err["loc"]),
                                input=err["input"]) for err in exc.errors(include_url=False)]
    return ValidationError.from_exception_data(exc.title, details)


def _untag(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Validate a tagged union, dropping the tag from error paths: body.target.audience_id, not ...audience..."""
    try:
        return handler(value)
    except ValidationError as exc:
        tags = {value.get(k) for k in ("kind", "mode")} if isinstance(value, dict) else set()
        raise _rebuild(exc, lambda loc: loc[1:] if loc and loc[0] in tags else loc) from None


def _bracket(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """('coupons', 0, 'quantity') -> ('coupons[0]', 'quantity'): list indices as our own errors write them."""
    out: list[str | int] = []
    for part in loc:
        if isinstance(part, int) and out:
            out[-1] = f"{out[-1]}[{part}]"
        else:
            out.append(part)
    return tuple(out)


def _bracketed(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    try:
        return handler(value)
    except ValidationError as exc:
        raise _rebuild(exc, _bracket) from None


def _check_date(value: str) -> str:
    try:
        if not _DATE.match(value):
            raise ValueError
        day = date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a date YYYY-MM-DD") from None
    return check_day(day).isoformat()


DateText = Annotated[str, AfterValidator(_check_date), Field(examples=["2026-12-01"])]


class AudienceTarget(Body):
    kind: Literal["audience"]
    audience_id: Id = Field(description="a built-in audience id (e.g. scenario_sleeping) or a saved audience")


class RuleTarget(Body):
    kind: Literal["rule"]
    rule: RuleJson = Field(description='inline audience rule: {"all": [...]} or {"any": [...]}')


class StaffFriendsTarget(Body):
    kind: Literal["staff_friends"]
    staff_ids: list[Id] = Field(min_length=1, max_length=MAX_STAFF)


class CustomersTarget(Body):
    kind: Literal["customers"]
    customer_ids: list[Id] = Field(min_length=1, max_length=MAX_CUSTOMERS)


CampaignTarget = Annotated[AudienceTarget | RuleTarget | StaffFriendsTarget | CustomersTarget,
                           Field(discriminator="kind"), WrapValidator(_untag)]


class OnceIn(Body):
    kind: Literal["once"]
    at: str | None = Field(default=None, description="ISO date-time (no offset = merchant local time); null = now")

    @field_validator("at")
    @classmethod
    def _at(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            if "T" not in value:
                raise ValueError
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("must be an ISO date-time such as 2026-12-01T10:00:00+08:00") from None
        if parsed.utcoffset() is not None:
            return to_iso(check_instant(parsed))
        check_day(parsed.date())  # local time: a zone moves it by less than a day
        return parsed.replace(microsecond=0).isoformat()


class RecurringIn(Body):
    kind: Literal["recurring"]
    frequency: Literal["daily", "weekly", "monthly"]
    time: str = Field(pattern=HHMM, description="local HH:MM")
    weekdays: list[Annotated[int, Field(ge=1, le=7, strict=True)]] = Field(default_factory=list, max_length=7)
    month_days: list[Annotated[int, Field(ge=1, le=31, strict=True)]] = Field(default_factory=list, max_length=31)
    last_day: bool = False
    start_date: DateText | None = Field(default=None, description="first local day; null = from activation")
    end_date: DateText | None = None
    start_next_period: bool = Field(default=False, description="first activation starts at the next period")


class TriggeredIn(Body):
    kind: Literal["triggered"]
    event: TriggerEventName = Field(description="order_cancelled fires for an order_cancelled event and for an order "
                                    "that becomes cancelled in POST /v1/orders/batch; order_timed_out likewise for an "
                                    "order cancelled with cancel_reason not_accepted_in_time (超时未接单); first_visit "
                                    "for a customer's earliest visit event (到店), once per customer")
    delay_days: int = Field(default=0, ge=0, le=MAX_DELAY_DAYS)
    time: str | None = Field(default=None, pattern=HHMM, description="local HH:MM; null = exactly N x 24 h later")
    item_ids: list[Id] = Field(default_factory=list, max_length=MAX_ITEMS, description="for purchase_items")
    lookback_days: int = Field(default=0, ge=0, le=MAX_LOOKBACK_DAYS,
                               description="events up to N days before activation also trigger; 0 = only events "
                                           "from activation on (older ones are skipped and counted)")


CampaignSchedule = Annotated[OnceIn | RecurringIn | TriggeredIn, Field(discriminator="kind"), WrapValidator(_untag)]


class AllAtOnce(Body):
    mode: Literal["all_at_once"]


class Batched(Body):
    mode: Literal["batched"]
    batch_size: int = Field(ge=1, le=100_000)
    interval_minutes: int = Field(ge=1, le=1440)


CampaignSending = Annotated[AllAtOnce | Batched, Field(discriminator="mode"), WrapValidator(_untag)]


class CampaignGuardrails(Body):
    """Per-campaign overrides: each may be stricter than the merchant's settings, or looser up to the merchant's
    ceiling (settings.guardrails.campaign_ceiling; by default no loosening)."""

    exclude_reached_within_days: int = Field(default=0, ge=0, le=7,
                                             description="skip customers reached by another campaign in N days")
    daily_messages_per_customer: int | None = Field(default=None, ge=0, le=100)
    coupon_message_cooldown_days: int | None = Field(default=None, ge=0, le=60)
    weekly_store_coupons_per_customer: int | None = Field(default=None, ge=0, le=100)
    weekly_item_coupons_per_customer: int | None = Field(default=None, ge=0, le=100)
    respect_quiet_hours: bool = True


class CampaignIn(Body):
    """POST /v1/campaigns: a whole campaign definition."""

    name: str = Field(min_length=1, max_length=40)
    description: str = Field(default="", max_length=200)
    label: str | None = Field(default=None, min_length=1, max_length=20, description="拉新, 增购 or custom")
    target: CampaignTarget
    action: CampaignAction
    schedule: CampaignSchedule
    sending: CampaignSending = Field(default_factory=lambda: AllAtOnce(mode="all_at_once"))
    guardrails: CampaignGuardrails = Field(default_factory=CampaignGuardrails)
    attribution_window_days: int = Field(default=7, ge=1, le=90)
    holdout_percent: int = Field(default=0, ge=0, le=50)
    treatments: list[Treatment] | None = Field(
        default=None, min_length=MIN_TREATMENTS, max_length=MAX_TREATMENTS,
        description="an A/B test (SPEC §6): 2-5 treatments, each its own action sent to its share of the recipients "
                    "not held out (assigned by campaign and customer, independently of the holdout); `action` may "
                    "then be left out and is the first treatment's")
    experiment: ExperimentIn | None = Field(default=None, description="with treatments: the verdict's metric and "
                                            "whether a recurring plan switches to the winner")

    model_config = ConfigDict(extra="forbid", json_schema_extra=action_optional)

    @model_validator(mode="wrap")
    @classmethod
    def _paths(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        return _bracketed(value, handler)

    @model_validator(mode="before")
    @classmethod
    def _first_action(cls, value: Any) -> Any:
        return first_action(value)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


BODY_FIELDS: tuple[str, ...] = tuple(CampaignIn.model_fields)


class CampaignPatch(Body):
    """PATCH: any subset of the definition; nested objects (target, action, ...) are replaced whole."""

    name: str | None = None
    description: str | None = None
    label: str | None = None
    target: CampaignTarget | None = None
    action: CampaignAction | None = None
    schedule: CampaignSchedule | None = None
    sending: CampaignSending | None = None
    guardrails: CampaignGuardrails | None = None
    attribution_window_days: int | None = None
    holdout_percent: int | None = None
    treatments: list[Treatment] | None = None
    experiment: ExperimentIn | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _paths(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        return _bracketed(value, handler)


def merge_patch(stored: dict[str, Any], patch: CampaignPatch) -> CampaignIn:
    """The stored definition with the patch's given fields replaced; ValidationError if the result is not valid."""
    merged = {k: stored[k] for k in BODY_FIELDS if k in stored}
    changes = patch.model_dump(mode="json", exclude_unset=True)
    if changes.get("treatments") and "action" not in changes:
        merged.pop("action", None)  # the first treatment's action again, not the one stored from the old arms
    merged.update(changes)
    return CampaignIn.model_validate(merged)


class CampaignQuery(ListQuery):
    status: State | None = None
    label: str | None = Field(default=None, min_length=1, max_length=20)
    name: str | None = Field(default=None, min_length=1, max_length=64,
                             description="campaigns whose name contains this text (case-insensitive)")
    schedule_kind: Literal["once", "recurring", "triggered"] | None = None
    channel: Channel | None = None


class Loosened(Model):
    setting: int = Field(description="the merchant's shop-wide value")
    campaign: int = Field(description="the value this campaign sends under")


class ActivationWarning(Model):
    code: str = Field(description="the suppression reason, e.g. cap_weekly_store_coupon")
    field: str = Field(description="the campaign field to change, e.g. guardrails.weekly_store_coupons_per_customer")
    message: str
    sends: int = Field(description="sends (touches for a triggered plan) replayed for one customer")
    suppressed: int = Field(description="of those, suppressed by this cap")


class CampaignOut(Model):
    campaign_id: str
    version: int
    status: State
    name: str
    description: str
    label: str | None
    target: CampaignTarget
    action: CampaignAction
    schedule: CampaignSchedule
    sending: CampaignSending
    guardrails: CampaignGuardrails
    attribution_window_days: int
    holdout_percent: int
    treatments: list[Treatment] | None = None
    experiment: ExperimentIn | None = None
    winner: SwitchEvent | None = Field(default=None, description="set when a recurring plan switched to the winner")
    created_at: str
    updated_at: str
    activated_at: str | None = None
    paused_at: str | None = None
    resumed_at: str | None = None
    cancelled_at: str | None = None
    ended_at: str | None = None
    send_now_requested_at: str | None = None
    next_run_at: str | None = Field(default=None, description="first occurrence computed at activation (UTC)")
    skipped_events: int | None = Field(default=None, description="triggered campaigns (GET of one campaign): "
                                       "events that happened before activation, beyond lookback_days, and were "
                                       "skipped (each event counted once)")
    loosened: dict[str, Loosened] = Field(default_factory=dict, description="per-customer caps this campaign "
                                          "loosens beyond the merchant setting (recorded at activation)")
    warnings: list[ActivationWarning] = Field(default_factory=list, description="found at activation: caps under "
                                              "which the schedule cannot deliver every send to a customer it "
                                              "targets each time (the campaign was activated all the same)")


class CampaignPage(Model):
    items: list[CampaignOut]
    next_cursor: str | None = None


class CampaignTemplateOut(Model):
    id: str
    name: str
    name_zh: str
    description: str
    requires: list[str] = Field(description="body paths holding placeholders to replace before POST /v1/campaigns")
    body: CampaignIn


class CampaignTemplateList(Model):
    items: list[CampaignTemplateOut]
    next_cursor: str | None = None
