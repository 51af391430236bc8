"""Coupon domain: template terms (the snapshot an instance keeps), instances, order lines and results."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from chalicelib.core.clock import parse_iso, to_iso
from chalicelib.core.errors import Conflict

CouponKind = Literal["store_threshold", "item_discount"]
MAX_PER_ISSUE = 100  # 004: one issue carries at most 100 coupons


class InstanceStatus(StrEnum):
    """Stored statuses; `expired` is never stored, it is computed from the clock (coupons.terms.effective_status)."""

    ISSUED = "issued"
    CLAIMED = "claimed"
    REDEEMED = "redeemed"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Validity:
    """Fixed local dates (start..end inclusive) or N natural days counted from the claim."""

    kind: Literal["fixed", "relative"]
    start: date | None = None
    end: date | None = None
    days: int | None = None


@dataclass(frozen=True, slots=True)
class ClaimWindow:
    """issue_day / within_days N / any_time: natural days in the merchant's zone, until 24:00 local."""

    kind: Literal["issue_day", "within_days", "any_time"]
    days: int | None = None


@dataclass(frozen=True, slots=True)
class CouponTerms:
    """What an instance copies from its template when issued; later template edits never touch it."""

    name: str
    kind: CouponKind
    validity: Validity
    claim_window: ClaimWindow
    threshold_fen: int | None = None
    discount_fen: int | None = None
    percent_off: int | None = None
    item_ids: tuple[str, ...] = ()
    cap_fen: int | None = None

    @staticmethod
    def from_data(data: dict[str, Any]) -> CouponTerms:
        v, w = data["validity"], data["claim_window"]
        return CouponTerms(
            name=data["name"], kind=data["kind"],
            validity=Validity(v["kind"], _date(v.get("start")), _date(v.get("end")), v.get("days")),
            claim_window=ClaimWindow(w["kind"], w.get("days")),
            threshold_fen=data.get("threshold_fen"), discount_fen=data.get("discount_fen"),
            percent_off=data.get("percent_off"), item_ids=tuple(data.get("item_ids") or ()),
            cap_fen=data.get("cap_fen"))

    def to_data(self) -> dict[str, Any]:
        v, w = self.validity, self.claim_window
        validity: dict[str, Any] = ({"kind": "fixed", "start": v.start.isoformat() if v.start else None,
                                     "end": v.end.isoformat() if v.end else None}
                                    if v.kind == "fixed" else {"kind": "relative", "days": v.days})
        window: dict[str, Any] = {"kind": w.kind} if w.kind != "within_days" else {"kind": w.kind, "days": w.days}
        return {"name": self.name, "kind": self.kind, "validity": validity, "claim_window": window,
                "threshold_fen": self.threshold_fen, "discount_fen": self.discount_fen,
                "percent_off": self.percent_off, "item_ids": list(self.item_ids), "cap_fen": self.cap_fen}


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _dt(text: str | None) -> datetime | None:
    return parse_iso(text) if text else None


def _iso(value: datetime | None) -> str | None:
    return to_iso(value) if value else None


@dataclass(frozen=True, slots=True)
class CouponInstance:
    """One issued coupon in a customer's wallet."""

    merchant_id: str
    instance_id: str
    coupon_id: str
    terms: CouponTerms
    customer_id: str
    status: InstanceStatus
    issued_at: datetime
    campaign_id: str | None = None
    run_id: str | None = None
    delivery_key: str | None = None
    claim_deadline: datetime | None = None
    claimed_at: datetime | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    redeemed_at: datetime | None = None
    order_id: str | None = None
    discount_fen: int | None = None

    def with_(self, **changes: Any) -> CouponInstance:
        return replace(self, **changes)

    def to_doc(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id, "coupon_id": self.coupon_id, "terms": self.terms.to_data(),
            "customer_id": self.customer_id, "status": self.status.value, "issued_at": to_iso(self.issued_at),
            "campaign_id": self.campaign_id, "run_id": self.run_id, "delivery_key": self.delivery_key,
            "claim_deadline": _iso(self.claim_deadline), "claimed_at": _iso(self.claimed_at),
            "valid_from": _iso(self.valid_from), "valid_until": _iso(self.valid_until),
            "redeemed_at": _iso(self.redeemed_at), "order_id": self.order_id, "discount_fen": self.discount_fen,
        }

    @staticmethod
    def from_doc(merchant_id: str, doc: dict[str, Any]) -> CouponInstance:
        return CouponInstance(
            merchant_id=merchant_id, instance_id=doc["instance_id"], coupon_id=doc["coupon_id"],
            terms=CouponTerms.from_data(doc["terms"]), customer_id=doc["customer_id"],
            status=InstanceStatus(doc["status"]), issued_at=parse_iso(doc["issued_at"]),
            campaign_id=doc.get("campaign_id"), run_id=doc.get("run_id"), delivery_key=doc.get("delivery_key"),
            claim_deadline=_dt(doc.get("claim_deadline")), claimed_at=_dt(doc.get("claimed_at")),
            valid_from=_dt(doc.get("valid_from")), valid_until=_dt(doc.get("valid_until")),
            redeemed_at=_dt(doc.get("redeemed_at")), order_id=doc.get("order_id"),
            discount_fen=doc.get("discount_fen"))


@dataclass(frozen=True, slots=True)
class OrderLine:
    """An order line as redemption sees it; price_fen is the unit price (0 when unknown)."""

    item_id: str
    quantity: int = 1
    price_fen: int = 0


@dataclass(frozen=True, slots=True)
class RedeemResult:
    """What one redemption attempt did: ok (counted once), replayed (same order again), or refused with reason."""

    instance_id: str
    order_id: str
    ok: bool
    reason: str | None = None
    discount_fen: int = 0
    replayed: bool = False
    campaign_id: str | None = None
    run_id: str | None = None
    coupon_id: str | None = None


class IssueRefused(Conflict):
    """Coupons could not be issued; `why` is the machine reason (out_of_stock, customer_limit, ...)."""

    def __init__(self, why: str, reason: str, field: str | None = None) -> None:
        super().__init__(reason, field=field)
        self.why = why


@dataclass(frozen=True)
class IssueRequest:
    """The arguments of one issue, kept together for the store's transaction."""

    merchant_id: str
    customer_id: str
    coupon_id: str
    quantity: int
    stock: int
    per_customer_limit: int | None
    instances: list[CouponInstance] = field(default_factory=list)


class WalletConflict(Exception):
    """A conditional wallet write lost; `what` names the condition: stock, customer_limit, exists, status."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what
