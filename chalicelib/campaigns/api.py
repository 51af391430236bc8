"""Routes: campaign templates, campaign definitions and their lifecycle actions."""

from __future__ import annotations

from collections.abc import Callable

from chalice import Blueprint
from pydantic import ValidationError

from chalicelib import wiring
from chalicelib.campaigns.schemas import (
    CampaignIn,
    CampaignOut,
    CampaignPage,
    CampaignPatch,
    CampaignQuery,
    CampaignTemplateList,
    CampaignTemplateOut,
    merge_patch,
)
from chalicelib.campaigns.templates import TEMPLATES
from chalicelib.core.auth import READERS, WRITERS
from chalicelib.core.http import Reply, Request, invalid_from, route
from chalicelib.core.paging import decode_cursor, encode_cursor
from chalicelib.core.records import Record

bp = Blueprint(__name__)
TAG = "campaigns"
ITEM = "/v1/campaigns/{campaign_id}"


def campaign_out(record: Record) -> CampaignOut:
    """The API view of a stored campaign."""
    return CampaignOut.model_validate({**record.data, "campaign_id": record.id, "version": record.version,
                                       "status": record.status, "label": record.label,
                                       "created_at": record.created_at, "updated_at": record.updated_at})


def _reply(record: Record, status: int = 200) -> Reply:
    return Reply(campaign_out(record), status=status, headers={"ETag": f'"{record.version}"'})


@route(bp, "/v1/campaign-templates", "GET", summary="Plan templates, each a prefilled campaign body", tag=TAG,
       roles=READERS, response=CampaignTemplateList)
def list_templates(req: Request) -> CampaignTemplateList:
    return CampaignTemplateList(items=[
        CampaignTemplateOut(id=t.id, name=t.name, name_zh=t.name_zh, description=t.description,
                            requires=list(t.requires), body=CampaignIn.model_validate(t.body))
        for t in TEMPLATES])


@route(bp, "/v1/campaigns", "POST", summary="Create a draft campaign", tag=TAG, roles=WRITERS, body=CampaignIn,
       response=CampaignOut, status=201, idempotent=True)
def create_campaign(req: Request) -> Reply:
    record = wiring.campaign_service().create(req.principal.merchant_id, req.body, req.idempotency_key)
    return _reply(record, 201)


@route(bp, "/v1/campaigns", "GET", summary="List campaigns (?status, ?label, ?name: contained, case-insensitive, "
       "?schedule_kind, ?channel)", tag=TAG, roles=READERS, query=CampaignQuery, response=CampaignPage)
def list_campaigns(req: Request) -> CampaignPage:
    q: CampaignQuery = req.query
    merchant = req.principal.merchant_id
    records, last = wiring.campaign_service().list(merchant, q.limit, decode_cursor(q.cursor, merchant),
                                                   status=q.status.value if q.status else None, label=q.label,
                                                   name=q.name, schedule_kind=q.schedule_kind, channel=q.channel)
    return CampaignPage(items=[campaign_out(r) for r in records], next_cursor=encode_cursor(last))


@route(bp, ITEM, "GET", summary="Read a campaign", tag=TAG, roles=READERS, response=CampaignOut)
def get_campaign(req: Request, campaign_id: str) -> Reply:
    merchant = req.principal.merchant_id
    record = wiring.campaign_service().get(merchant, campaign_id)
    out = campaign_out(record)
    if out.schedule.kind == "triggered":
        out.skipped_events = wiring.skip_store().count(merchant, campaign_id)
    return Reply(out, headers={"ETag": f'"{record.version}"'})


@route(bp, ITEM, "PATCH", summary="Change a draft or scheduled campaign", tag=TAG, roles=WRITERS,
       body=CampaignPatch, response=CampaignOut, if_match=True)
def patch_campaign(req: Request, campaign_id: str) -> Reply:
    service = wiring.campaign_service()
    merchant = req.principal.merchant_id
    record = service.editable(merchant, campaign_id, req.if_match)
    try:
        body = merge_patch(record.data, req.body)
    except ValidationError as exc:
        raise invalid_from(exc, "body") from exc
    return _reply(service.update(merchant, record, body))


@route(bp, ITEM, "DELETE", summary="Delete a draft, ended or cancelled campaign", tag=TAG, roles=WRITERS,
       status=204, if_match=True)
def delete_campaign(req: Request, campaign_id: str) -> None:
    wiring.campaign_service().delete(req.principal.merchant_id, campaign_id, req.if_match)


def _lifecycle(path: str, summary: str, action: Callable[[str, str], Record]) -> None:
    def view(req: Request, campaign_id: str) -> Reply:
        return _reply(action(req.principal.merchant_id, campaign_id))

    view.__name__ = f"campaign_{path.replace('-', '_')}"
    route(bp, f"{ITEM}/{path}", "POST", summary=summary, tag=TAG, roles=WRITERS, response=CampaignOut)(view)


@route(bp, f"{ITEM}/send-now", "POST", tag=TAG, roles=WRITERS, response=CampaignOut, idempotent=True,
       summary="Send a scheduled or running campaign now (an Idempotency-Key makes a retry the same send)")
def campaign_send_now(req: Request, campaign_id: str) -> Reply:
    return _reply(wiring.campaign_service().send_now(req.principal.merchant_id, campaign_id, req.idempotency_key))


_lifecycle("activate", "Activate a draft (scheduled, or running for send-now and triggered campaigns)",
           lambda m, c: wiring.campaign_service().activate(m, c))
_lifecycle("pause", "Pause a running campaign", lambda m, c: wiring.campaign_service().pause(m, c))
_lifecycle("resume", "Resume a paused campaign", lambda m, c: wiring.campaign_service().resume(m, c))
_lifecycle("cancel", "Cancel a scheduled, running or paused campaign",
           lambda m, c: wiring.campaign_service().cancel(m, c))
