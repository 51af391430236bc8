"""HTTP edge of reports: query parameters and the report, recipients, dashboard and history bodies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from chalicelib.core.basemodel import Model
from chalicelib.core.schemas import Body, Day, ListQuery
from chalicelib.reports.experiment_schemas import ExperimentOut

RecipientStatus = Literal["reached", "held_out", "suppressed", "failed", "not_sent", "converted"]
Format = Literal["json", "csv"]


class ReportQuery(Body):
    from_: Day | None = Field(default=None, alias="from", description="first local day (YYYY-MM-DD), inclusive")
    to: Day | None = Field(default=None, description="last local day (YYYY-MM-DD), inclusive")


class RecipientsQuery(ListQuery):
    status: RecipientStatus | None = None
    format: Format = Field(default="json", description="csv exports every matching row (limit/cursor ignored)")


class DashboardQuery(Body):
    period: Literal["yesterday", "7d", "30d"] = Field(default="7d", description="complete local days before today")


class HistoryQuery(ListQuery):
    status: Literal["active", "expired", "redeemed"] | None = None
    campaign_id: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$",
                                    description="only the coupons this campaign issued")
    from_: Day | None = Field(default=None, alias="from", description="first local issue day, inclusive")
    to: Day | None = Field(default=None, description="last local issue day, inclusive")
    format: Format = "json"


class Funnel(Model):
    """Distinct customers: targeted (incl. held out) → reached → ordered (any attributed order) → paid."""

    targeted: int
    held_out: int
    reached: int
    ordered: int
    paid: int


class Reasons(Model):
    failed: dict[str, int]
    suppressed: dict[str, int]
    not_sent: dict[str, int]


class Revenue(Model):
    orders: int
    gmv_fen: int
    discount_fen: int
    coupon_orders: int
    control_orders: int
    control_gmv_fen: int


class CouponFigures(Model):
    issued: int
    claimed: int
    redeemed: int
    expired: int
    claimers: int


class Churn(Model):
    """Reached customers who unsubscribed / unfollowed within the window after the reach (触达流失)."""

    unsubscribed: int
    unfollowed: int
    total: int
    rate: float | None


class Rates(Model):
    reach_rate: float | None = Field(description="reached / (targeted - held out)")
    order_rate: float | None = Field(description="ordered / reached")
    conversion_rate: float | None = Field(description="paid / reached")
    paid_of_ordered: float | None
    control_conversion_rate: float | None


class LiftOut(Model):
    """Treated vs holdout conversion, difference of proportions with a 95 % Wald interval."""

    status: str = Field(description="ok | insufficient | no_holdout")
    reason: str | None
    treated_n: int
    treated_conversions: int
    treated_rate: float | None
    control_n: int
    control_conversions: int
    control_rate: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    relative: float | None
    significant: bool
    confidence: float = 0.95
    min_per_arm: int
    min_conversions_per_arm: int


class DayPoint(Model):
    day: date
    reached: int
    orders: int
    gmv_fen: int
    discount_fen: int
    control_orders: int
    churn: int


class ReportOut(Model):
    campaign_id: str
    name: str | None
    timezone: str
    day_from: date | None
    day_to: date | None
    generated_at: datetime
    funnel: Funnel
    reasons: Reasons
    revenue: Revenue
    coupons: CouponFigures
    churn: Churn
    rates: Rates
    lift: LiftOut
    series: list[DayPoint]
    experiment: ExperimentOut | None = Field(default=None, description="A/B treatments: per treatment and for the "
                                             "holdout, the funnel, money, coupons, lifts and the verdict")


class CouponState(Model):
    instance_id: str
    coupon_id: str
    status: str


class RecipientOut(Model):
    customer_id: str
    status: str
    reason: str | None
    run_id: str | None
    at: datetime | None
    coupons: list[CouponState]
    orders: int = Field(description="attributed paid orders")
    amount_fen: int
    discount_fen: int
    reversed_orders: int = Field(description="attributed orders refunded or cancelled")
    churned: list[str]


class RecipientPage(Model):
    items: list[RecipientOut]
    next_cursor: str | None = None


class ExportLink(Model):
    """A large CSV export, put in S3: download it from `url` before it expires."""

    url: str
    rows: int
    expires_in: int


class TopCampaign(Model):
    campaign_id: str
    name: str | None
    reached: int
    orders: int
    gmv_fen: int


class DashboardOut(Model):
    period: str
    timezone: str
    day_from: date
    day_to: date
    sends: int = Field(description="recipients handed to a channel (reached + failed)")
    reached: int
    reach_rate: float | None
    coupons_issued: int
    coupons_redeemed: int = Field(description="attributed orders in the period that redeemed a campaign coupon")
    attributed_orders: int
    attributed_gmv_fen: int
    discount_fen: int
    top_campaigns: list[TopCampaign]


class HistoryRow(Model):
    instance_id: str
    coupon_id: str
    coupon_name: str
    customer_id: str
    campaign_id: str | None
    campaign_name: str | None = Field(default=None, description="the campaign's name now (null: issued by the API "
                                                                "or the campaign was deleted)")
    run_id: str | None
    status: str
    issued_at: datetime
    claimed_at: datetime | None
    valid_until: datetime | None
    redeemed_at: datetime | None
    order_id: str | None


class HistoryPage(Model):
    items: list[HistoryRow]
    next_cursor: str | None = None
