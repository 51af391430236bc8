"""Routes: a run with live progress, a campaign's runs and its upcoming triggered touches."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib import wiring
from chalicelib.core.auth import READERS
from chalicelib.core.clock import to_iso
from chalicelib.core.http import Request, route
from chalicelib.core.paging import decode_cursor, encode_cursor
from chalicelib.dispatch.schemas import RunOut, RunPage, RunsQuery, TouchOut, TouchPage, run_out

bp = Blueprint(__name__)
TAG = "runs"


@route(bp, "/v1/runs/{run_id}", "GET", summary="A run with live progress", tag=TAG, roles=READERS, response=RunOut)
def get_run(req: Request, run_id: str) -> RunOut:
    run, progress = wiring.runs_service().get(req.principal.merchant_id, run_id)
    return run_out(run, progress)


@route(bp, "/v1/campaigns/{campaign_id}/runs", "GET", summary="A campaign's runs, newest first", tag=TAG,
       roles=READERS, query=RunsQuery, response=RunPage)
def campaign_runs(req: Request, campaign_id: str) -> RunPage:
    merchant = req.principal.merchant_id
    wiring.repo("CAMPAIGN").require(merchant, campaign_id)
    rows, last = wiring.runs_service().of_campaign(merchant, campaign_id, req.query.limit,
                                                   decode_cursor(req.query.cursor, merchant))
    return RunPage(items=[run_out(r, p) for r, p in rows], next_cursor=encode_cursor(last))


@route(bp, "/v1/campaigns/{campaign_id}/touches", "GET", summary="A triggered campaign's upcoming touches (paged)",
       tag=TAG, roles=READERS, query=RunsQuery, response=TouchPage)
def campaign_touches(req: Request, campaign_id: str) -> TouchPage:
    merchant = req.principal.merchant_id
    wiring.repo("CAMPAIGN").require(merchant, campaign_id)
    items, last = wiring.due_store().open_touches(merchant, campaign_id, req.query.limit,
                                                  decode_cursor(req.query.cursor, merchant))
    return TouchPage(items=[TouchOut(customer_id=str(i.payload["customer_id"]), event=str(i.payload["event_id"]),
                                     due_at=to_iso(i.due_at), status=i.status) for i in items],
                     next_cursor=encode_cursor(last))
