"""Pydantic at the runs API's edge: its query and answers (the queue messages are dispatch.messages)."""

from __future__ import annotations

from pydantic import Field

from chalicelib.core.basemodel import Model
from chalicelib.core.clock import to_iso
from chalicelib.core.schemas import ListQuery
from chalicelib.dispatch.model import Run
from chalicelib.dispatch.runs import Progress


class ProgressOut(Model):
    """This run's recipients, each counted once in this run: a customer suppressed on 16 days of a daily plan is 16
    across its runs, while the campaign report counts distinct customers (1), each by its best outcome."""

    targeted: int = Field(description="recipients this run resolved its target to (incl. held out)")
    held_out: int = Field(description="of targeted, kept back as the holdout (sent nothing)")
    suppressed: dict[str, int] = Field(
        description="of targeted, recipients this run did not send to, by guardrail reason (cap_daily, cap_cooldown"
                    "…: docs/reasons.md); per run — the report's reasons.suppressed counts distinct customers")
    handed_over: int = Field(description="recipients passed to the channel (succeeded + failed + pending)")
    succeeded: int = Field(description="recipients the channel accepted (the report's reached, per run)")
    failed: int = Field(description="recipients the channel refused or that failed for good")
    failed_reasons: dict[str, int] = Field(description="failed recipients by reason (codes: docs/reasons.md)")
    cancelled: int = Field(description="not sent: the campaign was cancelled")
    pending: int = Field(description="not yet sent (the deferred ones included)")
    deferred: int = Field(default=0, description="of pending: waiting for the end of quiet hours or a channel's "
                          "back-off, to be sent at deferred_until or later")
    deferred_until: str | None = Field(default=None, description="the earliest instant a deferred recipient is sent")


class RunOut(Model):
    run_id: str
    campaign_id: str
    kind: str = Field(description="occurrence, birthday (daily check) or touches (a triggered campaign's day)")
    status: str
    occurrence: str
    started_at: str
    completed_at: str | None = None
    progress: ProgressOut


class RunPage(Model):
    items: list[RunOut]
    next_cursor: str | None = None


class RunsQuery(ListQuery):
    pass


class TouchOut(Model):
    customer_id: str
    event: str = Field(description="the event the touch answers: order:<id>, event:<id>, order-cancelled:<id>, "
                       "first-visit; with @<n> the plan's n-th follow-up of it")
    due_at: str = Field(description="when the touch is sent (UTC); the customer caps decide then")
    status: str = Field(description="pending, or claimed: being batched into the day's run")


class TouchPage(Model):
    items: list[TouchOut]
    next_cursor: str | None = None


def run_out(run: Run, progress: Progress) -> RunOut:
    return RunOut(run_id=run.run_id, campaign_id=run.campaign_id, kind=run.kind, status=run.status.value,
                  occurrence=to_iso(run.occurrence), started_at=run.started_at, completed_at=run.completed_at,
                  progress=ProgressOut(**progress.__dict__))
