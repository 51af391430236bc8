"""Routes: the field catalogue, audiences (built-in, custom, frozen, list), estimates and member pages / CSV."""

from __future__ import annotations

from dataclasses import asdict
from fractions import Fraction
from typing import Any

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.audiences import members as paging
from chalicelib.audiences.csvout import members_csv
from chalicelib.audiences.fields import catalogue
from chalicelib.audiences.model import MAX_MEMBERS, AudienceView, over_limit
from chalicelib.audiences.schemas import (
    AudienceIn,
    AudienceListQuery,
    AudienceOut,
    AudiencePage,
    AudiencePatch,
    Deleted,
    EstimateIn,
    EstimateOut,
    FieldList,
    FieldOut,
    MembersIn,
    MembersPage,
    MembersQuery,
)
from chalicelib.core.auth import READERS, WRITERS
from chalicelib.core.clock import parse_iso, to_iso
from chalicelib.core.csvtext import CONTENT_TYPE
from chalicelib.core.errors import Invalid
from chalicelib.core.http import Reply, Request, route
from chalicelib.core.paging import decode_cursor, encode_cursor

bp = Blueprint(__name__)
TAG = "audiences"
AUDIENCE = "/v1/audiences/{audience_id}"


def _out(view: AudienceView) -> AudienceOut:
    return AudienceOut(**asdict(view), over_limit=view.over_limit)


def _reply(view: AudienceView, status: int = 200) -> Reply:
    headers = {"ETag": f'"{view.version}"'} if view.version is not None else {}
    return Reply(_out(view), status=status, headers=headers)


def _position_cursor(merchant_id: str, audience_id: str, pos: paging.Position | None) -> str | None:
    if pos is None:
        return None
    return encode_cursor({"pk": f"{merchant_id}#{pos.shard:02d}", "aud": audience_id, "after": pos.after,
                          "as_of": to_iso(pos.as_of), "median": None if pos.median is None else str(pos.median),
                          "median_known": pos.median_known})


def _position(merchant_id: str, audience_id: str, cursor: str | None) -> paging.Position | None:
    raw = decode_cursor(cursor, merchant_id, store_key=False)
    if raw is None:
        return None
    try:
        if raw["aud"] != audience_id:
            raise ValueError("another audience's cursor")
        median = raw.get("median")
        return paging.Position(int(str(raw["pk"]).rsplit("#", 1)[1]), raw.get("after"), parse_iso(raw["as_of"]),
                               None if median is None else Fraction(median), bool(raw.get("median_known")))
    except (KeyError, ValueError, TypeError, IndexError, ZeroDivisionError) as exc:
        raise Invalid("cursor is not one this API issued for this audience", field="query.cursor") from exc


@route(bp, "/v1/audience-fields", "GET", summary="The rule field catalogue: name, type, operators, description",
       tag=TAG, roles=READERS, response=FieldList)
def audience_fields(req: Request) -> FieldList:
    return FieldList(items=[FieldOut.model_validate(entry) for entry in catalogue()])


@route(bp, "/v1/audiences", "GET", summary="Audiences with live counts (?kind=builtin|custom|frozen|list)",
       tag=TAG, roles=READERS, query=AudienceListQuery, response=AudiencePage)
def list_audiences(req: Request) -> AudiencePage:
    q: AudienceListQuery = req.query
    merchant = req.principal.merchant_id
    views, last = wiring.audience_service().list_audiences(merchant, q.kind, q.non_empty, q.limit,
                                                           decode_cursor(q.cursor, merchant))
    return AudiencePage(items=[_out(v) for v in views], next_cursor=encode_cursor(last))


@route(bp, "/v1/audiences", "POST", summary="Create a custom, frozen or list audience", tag=TAG, roles=WRITERS,
       body=AudienceIn, response=AudienceOut, status=201, idempotent=True)
def create_audience(req: Request) -> Reply:
    body: AudienceIn = req.body
    view, _ = wiring.audience_service().create(req.principal.merchant_id, body.model_dump(mode="json"),
                                               req.idempotency_key)
    return _reply(view, 201)


@route(bp, "/v1/audiences/estimate", "POST", summary="Count and sample a rule or an audience now", tag=TAG,
       roles=READERS, body=EstimateIn, response=EstimateOut)
def estimate_audience(req: Request) -> EstimateOut:
    body: EstimateIn = req.body
    count, sample, as_of = wiring.audience_service().estimate(req.principal.merchant_id, body.rule, body.audience_id)
    return EstimateOut(count=count, sample=sample, over_limit=over_limit(count), limit=MAX_MEMBERS,
                       as_of=to_iso(as_of))


@route(bp, AUDIENCE, "GET", summary="Read an audience (built-in ids too) with its count now", tag=TAG,
       roles=READERS, response=AudienceOut)
def get_audience(req: Request, audience_id: str) -> Reply:
    return _reply(wiring.audience_service().get(req.principal.merchant_id, audience_id))


@route(bp, AUDIENCE, "PATCH", summary="Rename, describe, change a custom rule or replace a list's members",
       tag=TAG, roles=WRITERS, body=AudiencePatch, response=AudienceOut, if_match=True)
def patch_audience(req: Request, audience_id: str) -> Reply:
    body: AudiencePatch = req.body
    patch = body.model_dump(mode="json", exclude_unset=True)
    return _reply(wiring.audience_service().patch(req.principal.merchant_id, audience_id, patch, req.if_match))


@route(bp, AUDIENCE, "DELETE", summary="Delete an audience (409 while a live campaign uses it)", tag=TAG,
       roles=WRITERS, response=Deleted, if_match=True)
def delete_audience(req: Request, audience_id: str) -> Deleted:
    wiring.audience_service().delete(req.principal.merchant_id, audience_id, req.if_match)
    return Deleted(id=audience_id)


@route(bp, AUDIENCE + "/members", "GET", summary="Member ids page by page (?format=csv exports; cursor in "
       "X-Next-Cursor)", tag=TAG, roles=READERS, query=MembersQuery, response=MembersPage, csv=True)
def audience_members(req: Request, audience_id: str) -> Any:
    q: MembersQuery = req.query
    merchant = req.principal.merchant_id
    csv = q.format == "csv"
    limit = q.limit or (1000 if csv else 100)
    found, nxt, pos = wiring.audience_service().members(merchant, audience_id, _position(merchant, audience_id,
                                                                                          q.cursor), limit, csv)
    cursor = _position_cursor(merchant, audience_id, nxt)
    if csv:
        headers = {"Content-Disposition": f'attachment; filename="{audience_id}.csv"'}
        if cursor:
            headers["X-Next-Cursor"] = cursor
        return Reply(members_csv(found), headers=headers, content_type=CONTENT_TYPE)
    return MembersPage(items=[m.customer_id for m in found], next_cursor=cursor, as_of=to_iso(pos.as_of))


@route(bp, AUDIENCE + "/members", "POST", summary="Add customers (ids or phones) to a list audience", tag=TAG,
       roles=WRITERS, body=MembersIn, response=AudienceOut, if_match=True)
def add_audience_members(req: Request, audience_id: str) -> Reply:
    body: MembersIn = req.body
    view = wiring.audience_service().add_members(req.principal.merchant_id, audience_id,
                                                 body.model_dump(mode="json"), req.if_match)
    return _reply(view)
