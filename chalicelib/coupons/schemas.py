"""HTTP bodies of coupon templates, coupon instances (the wallet) and claims."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from chalicelib.core.basemodel import Model
from chalicelib.core.errors import FieldIssue, Invalid
from chalicelib.core.schemas import Body, Day, ListQuery

ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
MAX_FEN = 100_000_000
ItemId = Annotated[str, Field(pattern=ID)]


class ValidityIn(Body):
    """`{"kind": "fixed", "start", "end"}` (local dates, inclusive) or `{"kind": "relative", "days"}`."""

    kind: Literal["fixed", "relative"]
    start: Day | None = None
    end: Day | None = None
    days: int | None = Field(default=None, ge=1, le=365, description="natural days from the claim day")


class ClaimWindowIn(Body):
    """issue_day / within_days (days, natural days incl. the issue day) / any_time; ends 24:00 local."""

    kind: Literal["issue_day", "within_days", "any_time"]
    days: int | None = Field(default=None, ge=1, le=365)


class CouponFields(Body):
    """Every template field; optional here so PATCH can reuse it (CouponIn makes the core ones required)."""

    name: str | None = Field(default=None, min_length=1, max_length=32)
    description: str | None = Field(default=None, max_length=200)
    kind: Literal["store_threshold", "item_discount"] | None = None
    threshold_fen: int | None = Field(default=None, ge=1, le=MAX_FEN, description="store_threshold: spend ≥ this")
    discount_fen: int | None = Field(default=None, ge=1, le=MAX_FEN, description="store_threshold: fen off")
    percent_off: int | None = Field(default=None, ge=1, le=99, description="item_discount: percent off")
    item_ids: list[ItemId] | None = Field(default=None, max_length=100, description="item_discount: 1-100 item ids")
    cap_fen: int | None = Field(default=None, ge=1, le=MAX_FEN, description="item_discount: max fen off")
    validity: ValidityIn | None = None
    claim_window: ClaimWindowIn | None = None
    stock: int | None = Field(default=None, ge=1, le=10_000_000, description="total units that may be issued")
    per_customer_limit: int | None = Field(default=None, ge=1, le=1000, description="units per customer")


class CouponIn(CouponFields):
    """POST /v1/coupons."""

    name: str = Field(min_length=1, max_length=32)
    description: str = Field(default="", max_length=200)
    kind: Literal["store_threshold", "item_discount"]
    validity: ValidityIn
    claim_window: ClaimWindowIn
    stock: int = Field(ge=1, le=10_000_000)


class CouponPatch(CouponFields):
    """PATCH /v1/coupons/{id}: the fields given replace the stored ones (null clears an optional one)."""


def _issues(c: CouponIn) -> list[FieldIssue]:
    out: list[FieldIssue] = []

    def need(name: str, present: bool, why: str) -> None:
        if not present:
            out.append(FieldIssue(f"body.{name}", why))

    if c.kind == "store_threshold":
        need("threshold_fen", c.threshold_fen is not None, "required for a store_threshold coupon")
        need("discount_fen", c.discount_fen is not None, "required for a store_threshold coupon")
        if c.threshold_fen is not None and c.discount_fen is not None and c.discount_fen >= c.threshold_fen:
            out.append(FieldIssue("body.discount_fen", "must be less than threshold_fen"))
        for name in ("percent_off", "item_ids", "cap_fen"):
            need(name, getattr(c, name) is None, "only for an item_discount coupon")
    else:
        need("percent_off", c.percent_off is not None, "required for an item_discount coupon")
        need("item_ids", bool(c.item_ids), "an item_discount coupon names 1 to 100 items")
        if c.item_ids and len(set(c.item_ids)) != len(c.item_ids):
            out.append(FieldIssue("body.item_ids", "item ids must be unique"))
        for name in ("threshold_fen", "discount_fen"):
            need(name, getattr(c, name) is None, "only for a store_threshold coupon")
    v = c.validity
    if v.kind == "fixed":
        need("validity.start", v.start is not None, "required for fixed validity")
        need("validity.end", v.end is not None, "required for fixed validity")
        need("validity.days", v.days is None, "only for relative validity")
        if v.start and v.end and v.end < v.start:
            out.append(FieldIssue("body.validity.end", "must be on or after start"))
    else:
        need("validity.days", v.days is not None, "required for relative validity")
        need("validity.start", v.start is None and v.end is None, "only for fixed validity")
    w = c.claim_window
    if w.kind == "within_days":
        need("claim_window.days", w.days is not None, "required when claiming within days")
    else:
        need("claim_window.days", w.days is None, "only for within_days")
    return out


def check_coupon(c: CouponIn) -> dict[str, Any]:
    """Cross-field rules; the stored form of a valid template (Invalid naming every bad field otherwise)."""
    issues = _issues(c)
    if issues:
        raise Invalid(issues[0].reason, field=issues[0].field, details=issues)
    return c.model_dump(mode="json")


class CouponOut(Model):
    coupon_id: str
    version: int
    status: str
    name: str
    description: str
    kind: str
    value_text: str = Field(description="the value as customers read it, e.g. 满30元减5元 or 8.5折")
    threshold_fen: int | None
    discount_fen: int | None
    percent_off: int | None
    item_ids: list[str] | None
    cap_fen: int | None
    validity: ValidityIn
    claim_window: ClaimWindowIn
    stock: int
    per_customer_limit: int | None
    issued: int = Field(description="units issued so far")
    remaining: int
    created_at: str
    updated_at: str


class CouponPage(Model):
    items: list[CouponOut]
    next_cursor: str | None = None


class ClaimIn(Body):
    customer_id: str = Field(pattern=ID)


class WalletQuery(ListQuery):
    status: Literal["issued", "claimed", "redeemed", "expired"] | None = None


class InstanceOut(Model):
    instance_id: str
    coupon_id: str
    customer_id: str
    status: Literal["issued", "claimed", "redeemed", "expired"]
    name: str
    kind: str
    value_text: str
    terms: dict[str, Any] = Field(description="the template's terms as they were when issued")
    campaign_id: str | None
    run_id: str | None
    issued_at: str
    claim_deadline: str | None
    claimed_at: str | None
    valid_from: str | None
    valid_until: str | None
    redeemed_at: str | None
    order_id: str | None
    discount_fen: int | None


class InstancePage(Model):
    items: list[InstanceOut]
    next_cursor: str | None = None
