"""Routes: content templates (POST/GET /v1/contents, GET/PATCH/DELETE /v1/contents/{content_id})."""

from __future__ import annotations

from chalice import Blueprint
from pydantic import ValidationError

from chalicelib import wiring
from chalicelib.contents.render import template_variables
from chalicelib.contents.schemas import AttachmentOut, ContentIn, ContentOut, ContentPage, ContentPatch
from chalicelib.core.auth import READERS, WRITERS
from chalicelib.core.basemodel import Model
from chalicelib.core.http import Reply, Request, invalid_from, route
from chalicelib.core.idempotency import derive_id, fingerprint
from chalicelib.core.paging import decode_cursor, encode_cursor
from chalicelib.core.records import Record
from chalicelib.core.schemas import ListQuery

bp = Blueprint(__name__)
TAG = "contents"


class ContentDeleted(Model):
    id: str
    deleted: bool = True


def content_out(record: Record) -> ContentOut:
    d = record.data
    used = template_variables(d["text"])
    used += [v for v in template_variables(d.get("subject") or "") if v not in used]
    return ContentOut(content_id=record.id, version=record.version, name=d["name"], text=d["text"],
                      subject=d.get("subject"), attachments=[AttachmentOut(**a) for a in d.get("attachments") or ()],
                      variables=used, created_at=record.created_at, updated_at=record.updated_at)


def _reply(record: Record, status: int = 200) -> Reply:
    return Reply(content_out(record), status=status, headers={"ETag": f'"{record.version}"'})


@route(bp, "/v1/contents", "POST", summary="Create a content template", tag=TAG, roles=WRITERS, body=ContentIn,
       response=ContentOut, status=201, idempotent=True)
def create_content(req: Request) -> Reply:
    merchant = req.principal.merchant_id
    data = req.body.model_dump(mode="json")
    content_id = derive_id("ct", merchant, "contents", req.idempotency_key)
    return _reply(wiring.content_service().create(merchant, content_id, data, fingerprint(data)), 201)


@route(bp, "/v1/contents", "GET", summary="List content templates", tag=TAG, roles=READERS, query=ListQuery,
       response=ContentPage)
def list_contents(req: Request) -> ContentPage:
    q: ListQuery = req.query
    merchant = req.principal.merchant_id
    records, last = wiring.content_service().list(merchant, q.limit, decode_cursor(q.cursor, merchant))
    return ContentPage(items=[content_out(r) for r in records], next_cursor=encode_cursor(last))


@route(bp, "/v1/contents/{content_id}", "GET", summary="Read a content template", tag=TAG, roles=READERS,
       response=ContentOut)
def get_content(req: Request, content_id: str) -> Reply:
    return _reply(wiring.content_service().get(req.principal.merchant_id, content_id))


@route(bp, "/v1/contents/{content_id}", "PATCH", summary="Change a content template", tag=TAG, roles=WRITERS,
       body=ContentPatch, response=ContentOut, if_match=True)
def patch_content(req: Request, content_id: str) -> Reply:
    service = wiring.content_service()
    current = service.get(req.principal.merchant_id, content_id)
    patch: ContentPatch = req.body
    merged = {**current.data, **patch.model_dump(mode="json", exclude_unset=True)}
    try:
        data = ContentIn.model_validate(merged).model_dump(mode="json")
    except ValidationError as exc:
        raise invalid_from(exc, "body") from exc
    expected = req.if_match if req.if_match is not None else current.version
    return _reply(service.update(req.principal.merchant_id, content_id, data, expected))


@route(bp, "/v1/contents/{content_id}", "DELETE", summary="Delete a content template unless a live campaign uses it",
       tag=TAG, roles=WRITERS, response=ContentDeleted, if_match=True)
def delete_content(req: Request, content_id: str) -> ContentDeleted:
    wiring.content_service().delete(req.principal.merchant_id, content_id, req.if_match)
    return ContentDeleted(id=content_id)
