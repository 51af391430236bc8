"""Pydantic at the dispatch edges: queue messages (versioned) and the runs API's answers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from chalicelib.core.clock import to_iso
from chalicelib.core.schemas import ListQuery
from chalicelib.dispatch.model import Run
from chalicelib.dispatch.runs import Progress


class PlanMessage(BaseModel):
    v: Literal[1] = 1
    merchant_id: str
    run_id: str
    segment: int = Field(ge=0, le=255)


class ChunkMessage(BaseModel):
    v: Literal[1] = 1
    merchant_id: str
    run_id: str
    chunk_id: str


class ProgressOut(BaseModel):
    targeted: int
    held_out: int
    suppressed: dict[str, int] = Field(description="suppressed recipients by reason")
    handed_over: int
    succeeded: int
    failed: int
    failed_reasons: dict[str, int] = Field(description="failed recipients by reason (dead_letter: <last error>)")
    cancelled: int = Field(description="not sent: the campaign was cancelled")
    pending: int = Field(description="not yet sent")


class RunOut(BaseModel):
    run_id: str
    campaign_id: str
    kind: str = Field(description="occurrence, birthday (daily check) or touches (a triggered campaign's day)")
    status: str
    occurrence: str
    started_at: str
    completed_at: str | None = None
    progress: ProgressOut


class RunPage(BaseModel):
    items: list[RunOut]
    next_cursor: str | None = None


class RunsQuery(ListQuery):
    pass


def run_out(run: Run, progress: Progress) -> RunOut:
    return RunOut(run_id=run.run_id, campaign_id=run.campaign_id, kind=run.kind, status=run.status.value,
                  occurrence=to_iso(run.occurrence), started_at=run.started_at, completed_at=run.completed_at,
                  progress=ProgressOut(**progress.__dict__))
