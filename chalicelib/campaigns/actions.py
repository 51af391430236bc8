"""HTTP bodies of what a campaign sends: its action (channel, coupons, content) and its A/B treatments."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from chalicelib.core.basemodel import Model
from chalicelib.core.ids import ID_PATTERN
from chalicelib.core.schemas import Body

MAX_COUPONS_PER_ISSUE = 100
MIN_TREATMENTS = 2
MAX_TREATMENTS = 5

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=ID_PATTERN)]
Channel = Literal["wallet", "inbox", "sms", "email", "webhook", "staff_task"]
Metric = Literal["conversion", "revenue_per_recipient", "net_revenue_per_recipient"]


class CouponLine(Body):
    coupon_id: Id
    quantity: int = Field(default=1, ge=1, le=MAX_COUPONS_PER_ISSUE)


class CampaignAction(Body):
    channel: Channel
    coupons: list[CouponLine] = Field(default_factory=list, max_length=MAX_COUPONS_PER_ISSUE,
                                      description="at most 90 coupons per recipient with one template, 2 fewer per "
                                      "further template; wallet needs one")
    content_id: Id | None = Field(default=None, description="required for inbox, sms, email and staff_task")


class Treatment(Body):
    """One arm of an A/B test: its own action, sent to `share_percent` of the recipients not held out."""

    name: str = Field(min_length=1, max_length=40, description="shown in the report, e.g. 满100减10; unique")
    share_percent: int = Field(ge=1, le=100, description="shares of all treatments sum to 100")
    action: CampaignAction

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class ExperimentIn(Body):
    """How the treatments are judged, and whether a recurring plan then sends the winner to everyone."""

    metric: Metric = Field(default="conversion", description="the verdict's metric")
    switch_to_winner: bool = Field(default=False, description="recurring plans: once a verdict holds, every "
                                   "later run sends the winning treatment to every recipient not held out "
                                   "(recorded as a campaign event)")


class SwitchEvent(Model):
    """The campaign event of a recurring plan switching to its experiment's winner (from the run started `at`)."""

    type: Literal["switched_to_winner"] = "switched_to_winner"
    treatment: str
    at: str
    metric: str
    reason: str
    runner_up: str | None = None
    difference: float | None = Field(default=None, description="the winner's lead over the runner-up")
    ci_low: float | None = None
    ci_high: float | None = None
    recipients: dict[str, int] = Field(default_factory=dict, description="reached recipients per treatment then")


def first_action(value: Any) -> Any:
    """A campaign body with treatments and no action gets the first treatment's (what lists and checks read)."""
    arms = value.get("treatments") if isinstance(value, dict) else None
    if isinstance(arms, list) and arms and isinstance(arms[0], dict) and "action" in arms[0] \
            and "action" not in value:
        return {**value, "action": arms[0]["action"]}
    return value


def action_optional(schema: dict[str, Any]) -> None:
    """The OpenAPI document says what first_action does: with treatments, `action` may be left out."""
    schema["required"] = [name for name in schema.get("required", []) if name != "action"]
    schema.setdefault("properties", {}).setdefault("action", {})["description"] = \
        "what is sent; required unless treatments are given (then it is the first treatment's action)"
