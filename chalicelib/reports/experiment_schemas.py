"""HTTP bodies of a campaign report's experiment: per-treatment figures, lifts with intervals, the verdict."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from chalicelib.core.basemodel import Model


class Range(Model):
    low: float
    high: float


class ArmCoupons(Model):
    """The treatment's coupon instances by state (claimed counts redeemed ones too)."""

    issued: int
    claimed: int
    redeemed: int


class LiftFigure(Model):
    """This row minus the base on one metric, with its 95 % interval (none under 30 recipients a side)."""

    difference: float | None
    ci_low: float | None
    ci_high: float | None
    relative: float | None
    significant: bool


class ArmOut(Model):
    """One treatment (or the holdout row): its funnel, money and coupons, and per-recipient rates."""

    name: str
    holdout: bool = Field(description="the control row: customers held out of every treatment")
    share_percent: int | None
    recipients: int = Field(description="reached customers of the treatment (held out ones for the holdout row)")
    ordered: int
    paid: int
    orders: int
    gmv_fen: int
    discount_fen: int
    net_fen: int = Field(description="GMV − discount")
    coupons: ArmCoupons
    conversion_rate: float | None = Field(description="paid / recipients")
    conversion_ci: Range | None = Field(description="Wilson 95 % interval of the conversion rate")
    revenue_per_recipient_fen: float | None
    revenue_ci: Range | None
    net_revenue_per_recipient_fen: float | None
    net_revenue_ci: Range | None
    vs_holdout: dict[str, LiftFigure] = Field(description="per metric: this treatment minus the holdout")
    vs_first: dict[str, LiftFigure] = Field(description="per metric: this treatment minus the first treatment")


class VerdictOut(Model):
    """The winner on the campaign's metric with the interval of its lead, or "not yet decided" and what it needs."""

    status: str = Field(description="decided | not_yet_decided")
    metric: str
    winner: str | None
    leader: str | None
    runner_up: str | None
    lead: LiftFigure | None = Field(description="leader minus runner-up, at the per-comparison confidence")
    reason: str
    more_recipients_needed: dict[str, int | None] = Field(
        description="per treatment, about how many more reached recipients the verdict needs (null: not "
                    "estimable until some recipients convert)")
    confidence: float
    per_comparison_confidence: float = Field(description="Bonferroni: the confidence of each of the k−1 "
                                             "comparisons of the leader with another treatment")
    min_per_arm: int
    min_conversions_per_arm: int


class SwitchOut(Model):
    """The campaign event of a recurring plan switching to the winner: every later run sends it to everyone."""

    treatment: str
    at: datetime
    metric: str
    reason: str


class ExperimentOut(Model):
    metric: str
    switch_to_winner: bool
    arms: list[ArmOut] = Field(description="each treatment in the campaign's order, then the holdout row")
    verdict: VerdictOut
    switched: SwitchOut | None = Field(description="set once the plan switched to the winner")
