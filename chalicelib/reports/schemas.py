"""HTTP edge of reports: query parameters and the report, recipients, dashboard and history bodies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from chalicelib.core.basemodel import Model
from chalicelib.core.schemas import Body, Day, ListQuery
from chalicelib.reports.experiment_schemas import ExperimentOut

RecipientStatus = Literal["reached", "held_out", "suppressed", "failed", "deferred", "not_sent", "converted"]
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

    targeted: int = Field(
        description="distinct customers of the campaign in the days, each counted once by its best delivery across "
                    "every run (incl. held out)")
    held_out: int = Field(description='of targeted, customers whose best delivery is the holdout')
    reached: int = Field(
        description="of targeted, customers reached at least once (a run's succeeded, but distinct across runs)")
    ordered: int = Field(
        description='of reached, customers with an order attributed to the campaign (paid or later refunded)')
    paid: int = Field(
        description='of ordered, customers with an attributed order still paid (not refunded or cancelled)')


class Reasons(Model):
    """Distinct customers by their best status's reason (a customer counts once, in the status ranked best)."""

    failed: dict[str, int] = Field(
        description='customers whose best delivery failed, by reason (distinct customers across runs)')
    suppressed: dict[str, int] = Field(
        description="customers never sent to, by the reason of their latest suppression: distinct customers across "
                    "runs (a customer suppressed cap_daily on 16 runs is 1 here and 16 in the runs' progress)")
    deferred: dict[str, int] = Field(default_factory=dict, description="waiting to be sent: quiet_hours (deferred "
                                     "to the end of the merchant's quiet hours) or channel_backoff (the channel "
                                     "asked to be called again later)")
    not_sent: dict[str, int] = Field(
        description='customers not sent for another reason (cancelled, no contact, cannot render…), by reason')
    deferred_until: datetime | None = Field(default=None, description="the earliest instant a deferred recipient "
                                            "is sent")


class Revenue(Model):
    orders: int = Field(description='orders attributed to the campaign (treated customers), refunds netted out')
    gmv_fen: int = Field(description='their amount in fen, refunds netted out')
    discount_fen: int = Field(description="their discount in fen (the coupons' cost)")
    coupon_orders: int = Field(description='of orders, those that redeemed a coupon the campaign issued')
    control_orders: int = Field(
        description='orders of held-out customers in the attribution window (the control group)')
    control_gmv_fen: int = Field(description='their amount in fen')


class CouponFigures(Model):
    issued: int = Field(description='coupon instances the campaign issued (in the days)')
    claimed: int = Field(description='of issued, claimed by the customer')
    redeemed: int = Field(description='of issued, redeemed in an order')
    expired: int = Field(description='of issued, expired unused')
    claimers: int = Field(description='distinct customers who claimed at least one')


class Churn(Model):
    """Reached customers who unsubscribed / unfollowed within the window after the reach (触达流失)."""

    unsubscribed: int = Field(
        description='reached customers who unsubscribed within the attribution window after the reach')
    unfollowed: int = Field(description='reached customers who unfollowed within the window')
    total: int = Field(description='unsubscribed + unfollowed')
    rate: float | None = Field(description='total / reached')


class Rates(Model):
    reach_rate: float | None = Field(description="reached / (targeted - held out)")
    order_rate: float | None = Field(description="ordered / reached")
    conversion_rate: float | None = Field(description="paid / reached")
    paid_of_ordered: float | None = Field(description='paid / ordered')
    control_conversion_rate: float | None = Field(description='held-out customers with a paid order / held out')


class LiftOut(Model):
    """Treated vs holdout conversion, difference of proportions with a 95 % Wald interval."""

    status: str = Field(description="ok | insufficient | no_holdout")
    reason: str | None = Field(description='why there is no interval, in words (null when status is ok)')
    treated_n: int = Field(description='reached customers (the treated arm)')
    treated_conversions: int = Field(description='of those, customers with a paid order')
    treated_rate: float | None = Field(description='treated_conversions / treated_n')
    control_n: int = Field(description='held-out customers (the control arm)')
    control_conversions: int = Field(description='of those, customers with a paid order in the window')
    control_rate: float | None = Field(description='control_conversions / control_n')
    difference: float | None = Field(description='treated_rate - control_rate')
    ci_low: float | None = Field(description='lower end of the interval of difference')
    ci_high: float | None = Field(description='upper end')
    relative: float | None = Field(description='difference / control_rate')
    significant: bool = Field(description='the interval excludes 0')
    confidence: float = Field(default=0.95, description="the interval's confidence level")
    min_per_arm: int = Field(description='customers an arm needs for an interval')
    min_conversions_per_arm: int = Field(description='conversions an arm needs for an interval')


class DayPoint(Model):
    day: date = Field(description="a local day of the merchant's zone")
    reached: int = Field(description="deliveries reached that day (each run's reach of a customer counts on its day)")
    orders: int = Field(description='attributed orders paid that day')
    gmv_fen: int = Field(description='their amount in fen')
    discount_fen: int = Field(description='their discount in fen')
    control_orders: int = Field(description="held-out customers' orders that day")
    churn: int = Field(description='unsubscribes and unfollows attributed that day')


class LoosenedCap(Model):
    setting: int = Field(description="the merchant's shop-wide value")
    campaign: int = Field(description="the value the campaign sends under")


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
    loosened: dict[str, LoosenedCap] = Field(default_factory=dict, description="per-customer caps the campaign "
                                             "loosens beyond the merchant setting (recorded at its activation)")


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
    until: datetime | None = Field(default=None, description="status deferred: the instant it is sent")
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
