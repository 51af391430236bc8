"""Routes: coupon templates (POST/GET /v1/coupons, GET/PATCH/DELETE /v1/coupons/{coupon_id})."""

from __future__ import annotations

from chalice import Blueprint
from pydantic import ValidationError

from chalicelib import wiring
from chalicelib.core.auth import READERS, WRITERS
from chalicelib.core.basemodel import Model
from chalicelib.core.http import Reply, Request, invalid_from, route
from chalicelib.core.idempotency import derive_id, fingerprint
from chalicelib.core.paging import decode_cursor, encode_cursor
from chalicelib.core.records import Record
from chalicelib.core.schemas import ListQuery
from chalicelib.coupons.model import CouponTerms
from chalicelib.coupons.schemas import CouponIn, CouponOut, CouponPage, CouponPatch, check_coupon
from chalicelib.coupons.terms import value_text

bp = Blueprint(__name__)
TAG = "coupons"


class CouponDeleted(Model):
    id: str
    deleted: bool = True


def coupon_out(record: Record, issued: int) -> CouponOut:
    d = record.data
    return CouponOut(
        coupon_id=record.id, version=record.version, status=record.status or "active", name=d["name"],
        description=d.get("description") or "", kind=d["kind"], value_text=value_text(CouponTerms.from_data(d)),
        threshold_fen=d.get("threshold_fen"), discount_fen=d.get("discount_fen"), percent_off=d.get("percent_off"),
        item_ids=d.get("item_ids"), cap_fen=d.get("cap_fen"), validity=d["validity"], claim_window=d["claim_window"],
        stock=d["stock"], per_customer_limit=d.get("per_customer_limit"), issued=issued,
        remaining=max(0, int(d["stock"]) - issued), created_at=record.created_at, updated_at=record.updated_at)


def _reply(record: Record, status: int = 200) -> Reply:
    issued = wiring.coupon_templates().issued(record.merchant_id, [record.id])[record.id]
    return Reply(coupon_out(record, issued), status=status, headers={"ETag": f'"{record.version}"'})


@route(bp, "/v1/coupons", "POST", summary="Create a coupon template", tag=TAG, roles=WRITERS, body=CouponIn,
       response=CouponOut, status=201, idempotent=True)
def create_coupon(req: Request) -> Reply:
    merchant = req.principal.merchant_id
    data = check_coupon(req.body)
    coupon_id = derive_id("cp", merchant, "coupons", req.idempotency_key)
    record, _ = wiring.coupon_templates().create(merchant, coupon_id, data, fingerprint(data))
    return _reply(record, 201)


@route(bp, "/v1/coupons", "GET", summary="List coupon templates", tag=TAG, roles=READERS, query=ListQuery,
       response=CouponPage)
def list_coupons(req: Request) -> CouponPage:
    q: ListQuery = req.query
    merchant = req.principal.merchant_id
    service = wiring.coupon_templates()
    records, last = service.list(merchant, q.limit, decode_cursor(q.cursor, merchant))
    issued = service.issued(merchant, [r.id for r in records]) if records else {}
    return CouponPage(items=[coupon_out(r, issued.get(r.id, 0)) for r in records], next_cursor=encode_cursor(last))


@route(bp, "/v1/coupons/{coupon_id}", "GET", summary="Read a coupon template", tag=TAG, roles=READERS,
       response=CouponOut)
def get_coupon(req: Request, coupon_id: str) -> Reply:
    return _reply(wiring.coupon_templates().get(req.principal.merchant_id, coupon_id))


@route(bp, "/v1/coupons/{coupon_id}", "PATCH", summary="Change a coupon template (issued coupons keep their terms)",
       tag=TAG, roles=WRITERS, body=CouponPatch, response=CouponOut, if_match=True)
def patch_coupon(req: Request, coupon_id: str) -> Reply:
    service = wiring.coupon_templates()
    current = service.get(req.principal.merchant_id, coupon_id)
    patch: CouponPatch = req.body
    merged = {**current.data, **patch.model_dump(mode="json", exclude_unset=True)}
    try:
        full = CouponIn.model_validate(merged)
    except ValidationError as exc:
        raise invalid_from(exc, "body") from exc
    data = check_coupon(full)
    expected = req.if_match if req.if_match is not None else current.version
    return _reply(service.update(req.principal.merchant_id, coupon_id, data, expected))


@route(bp, "/v1/coupons/{coupon_id}", "DELETE", summary="Delete a coupon template unless a live campaign uses it",
       tag=TAG, roles=WRITERS, response=CouponDeleted, if_match=True)
def delete_coupon(req: Request, coupon_id: str) -> CouponDeleted:
    wiring.coupon_templates().delete(req.principal.merchant_id, coupon_id, req.if_match)
    return CouponDeleted(id=coupon_id)
