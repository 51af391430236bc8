"""Routes: a customer's inbox (GET /v1/customers/{customer_id}/inbox) with each coupon's current status."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint
from pydantic import Field

from chalicelib import wiring
from chalicelib.channels.inbox_store import inbox_owner
from chalicelib.core.auth import READERS
from chalicelib.core.basemodel import Model
from chalicelib.core.errors import Invalid
from chalicelib.core.http import Request, route
from chalicelib.core.paging import decode_cursor, encode_cursor
from chalicelib.core.schemas import ListQuery
from chalicelib.coupons.terms import effective_status
from chalicelib.coupons.wallet_api import require_customer

bp = Blueprint(__name__)
TAG = "wallet"


class InboxCouponOut(Model):
    instance_id: str
    coupon_id: str
    name: str
    value_text: str
    claim_link: str | None
    status: str = Field(description="current status: issued (claimable), claimed, redeemed or expired")


class InboxMessageOut(Model):
    message_id: str
    sent_at: str
    local_date: str
    campaign_id: str | None
    text: str
    subject: str | None
    links: dict[str, str]
    attachments: list[dict[str, Any]]
    coupons: list[InboxCouponOut]


class InboxPage(Model):
    items: list[InboxMessageOut]
    next_cursor: str | None = None


@route(bp, "/v1/customers/{customer_id}/inbox", "GET", summary="A customer's inbox messages, newest first",
       tag=TAG, roles=READERS, query=ListQuery, response=InboxPage)
def list_inbox(req: Request, customer_id: str) -> InboxPage:
    q: ListQuery = req.query
    merchant = req.principal.merchant_id
    require_customer(merchant, customer_id)
    start = decode_cursor(q.cursor, merchant)
    if start is not None and start.get("gsi1pk", {}).get("S") != inbox_owner(merchant, customer_id):
        raise Invalid("cursor belongs to another list", field="query.cursor")
    docs, last = wiring.inbox_store().list(merchant, customer_id, q.limit, start)
    ids = [c["instance_id"] for d in docs for c in d.get("coupons") or ()]
    instances = wiring.wallet_store().get_instances(merchant, ids) if ids else {}
    now = wiring.now()

    def status_of(instance_id: str) -> str:
        inst = instances.get(instance_id)
        return effective_status(inst, now).value if inst else "unknown"

    items = [InboxMessageOut(
        message_id=d["message_id"], sent_at=d["sent_at"], local_date=d["local_date"], campaign_id=d.get("campaign_id"),
        text=d["text"], subject=d.get("subject"), links=d.get("links") or {}, attachments=d.get("attachments") or [],
        coupons=[InboxCouponOut(**c, status=status_of(c["instance_id"])) for c in d.get("coupons") or ()])
        for d in docs]
    return InboxPage(items=items, next_cursor=encode_cursor(last))
