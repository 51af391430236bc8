"""Routes: a customer's wallet (GET /v1/customers/{customer_id}/coupons) and claiming a coupon."""

from __future__ import annotations

from datetime import datetime

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.core.auth import READERS, WRITERS
from chalicelib.core.clock import to_iso
from chalicelib.core.errors import Invalid, NotFound
from chalicelib.core.http import Request, route
from chalicelib.core.paging import decode_cursor, encode_cursor
from chalicelib.coupons.model import CouponInstance, InstanceStatus
from chalicelib.coupons.schemas import ClaimIn, InstanceOut, InstancePage, WalletQuery
from chalicelib.coupons.store import wallet_owner
from chalicelib.coupons.terms import effective_status, value_text

bp = Blueprint(__name__)
TAG = "wallet"


def iso(value: datetime | None) -> str | None:
    return to_iso(value) if value is not None else None


def instance_out(inst: CouponInstance, status: InstanceStatus) -> InstanceOut:
    return InstanceOut(
        instance_id=inst.instance_id, coupon_id=inst.coupon_id, customer_id=inst.customer_id, status=status.value,
        name=inst.terms.name, kind=inst.terms.kind, value_text=value_text(inst.terms), terms=inst.terms.to_data(),
        campaign_id=inst.campaign_id, run_id=inst.run_id, issued_at=to_iso(inst.issued_at),
        claim_deadline=iso(inst.claim_deadline), claimed_at=iso(inst.claimed_at), valid_from=iso(inst.valid_from),
        valid_until=iso(inst.valid_until), redeemed_at=iso(inst.redeemed_at), order_id=inst.order_id,
        discount_fen=inst.discount_fen)


def require_customer(merchant_id: str, customer_id: str) -> None:
    """404 unless the customer is one of this merchant's (another tenant's id is simply unknown here)."""
    if wiring.customer_store().get_row(merchant_id, customer_id) is None:
        raise NotFound(f"no customer {customer_id}", field="path.customer_id")


@route(bp, "/v1/customers/{customer_id}/coupons", "GET", summary="A customer's wallet (?status= filters)",
       tag=TAG, roles=READERS, query=WalletQuery, response=InstancePage)
def list_wallet(req: Request, customer_id: str) -> InstancePage:
    q: WalletQuery = req.query
    merchant = req.principal.merchant_id
    require_customer(merchant, customer_id)
    start = decode_cursor(q.cursor, merchant)
    if start is not None and start.get("gsi1pk", {}).get("S") != wallet_owner(merchant, customer_id):
        raise Invalid("cursor belongs to another list", field="query.cursor")
    status = InstanceStatus(q.status) if q.status else None
    rows, last = wiring.wallet_service().wallet(merchant, customer_id, status, q.limit, start)
    return InstancePage(items=[instance_out(i, s) for i, s in rows], next_cursor=encode_cursor(last))


@route(bp, "/v1/coupon-instances/{instance_id}/claim", "POST", summary="Claim a claimable coupon for its customer",
       tag=TAG, roles=WRITERS, body=ClaimIn, response=InstanceOut)
def claim_coupon(req: Request, instance_id: str) -> InstanceOut:
    body: ClaimIn = req.body
    claimed = wiring.wallet_service().claim(req.principal.merchant_id, instance_id, body.customer_id)
    return instance_out(claimed, effective_status(claimed, wiring.now()))
