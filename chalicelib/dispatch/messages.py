"""The dispatch queues' messages, versioned: every producer builds them here and every consumer parses them here."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from chalicelib.core.basemodel import Model
from chalicelib.dispatch.model import DueItem


class PlanMessage(Model):
    """The plan queue: plan one segment of a run (a segment short of time sends itself again)."""

    model_config = ConfigDict(frozen=True)

    v: Literal[1] = 1
    merchant_id: str
    run_id: str
    segment: int = Field(ge=0, le=255)


class ChunkMessage(Model):
    """The dispatch queue: deliver one chunk of a run."""

    model_config = ConfigDict(frozen=True)

    v: Literal[1] = 1
    merchant_id: str
    run_id: str
    chunk_id: str


def plan_messages(merchant_id: str, run_id: str, segments: int) -> list[PlanMessage]:
    """One message per plan segment of a run."""
    return [PlanMessage(merchant_id=merchant_id, run_id=run_id, segment=s) for s in range(segments)]


def chunk_messages(merchant_id: str, run_id: str, chunk_ids: list[str]) -> list[ChunkMessage]:
    return [ChunkMessage(merchant_id=merchant_id, run_id=run_id, chunk_id=c) for c in chunk_ids]


def chunk_message_of(item: DueItem) -> ChunkMessage:
    """The chunk a due item (a later slice, a deferral, a parked or triggered chunk) names in its payload."""
    return ChunkMessage(merchant_id=item.merchant_id, run_id=item.payload["run_id"], chunk_id=item.payload["chunk_id"])
