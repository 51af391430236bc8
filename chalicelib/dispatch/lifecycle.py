"""What the campaign lifecycle routes call after a status change: schedule, park, resume or drop work."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.campaigns.schedule import OnceSchedule
from chalicelib.core.clock import Clock, parse_iso
from chalicelib.core.records import Record
from chalicelib.dispatch.messages import chunk_message_of
from chalicelib.dispatch.model import DueKind, RunStatus
from chalicelib.dispatch.occurrences import first_due, occurrence_due
from chalicelib.dispatch.ports import DueRepo, QueuePort, RunRepo
from chalicelib.dispatch.snapshot import view

OPEN_RUNS = (RunStatus.PLANNING, RunStatus.SENDING)


class DispatchLifecycle:
    """The dispatch half of activate, send-now, pause, resume and cancel (the campaigns package moves status)."""

    def __init__(self, due: DueRepo, runs: RunRepo, queues: QueuePort, timezone_of: Callable[[str], str],
                 clock: Clock) -> None:
        self._due = due
        self._runs = runs
        self._queues = queues
        self._tz = timezone_of
        self._clock = clock

    def on_activated(self, campaign: Record) -> datetime | None:
        """Write the first due item (once-now: due now; triggered: nothing, birthday: the first daily check)."""
        now = self._clock()
        item = first_due(campaign.merchant_id, view(campaign.id, campaign.status, campaign.data),
                         self._tz(campaign.merchant_id), now)
        if item is None:
            return None
        self._due.put(item, now)
        return item.due_at

    def on_send_now(self, campaign: Record) -> datetime:
        """A run at the requested instant; a once campaign's scheduled occurrence is dropped so it sends only once.

        Running again for the same request (a retry) puts the same occurrence key: nothing is sent twice.
        """
        requested = campaign.data.get("send_now_requested_at")
        now = parse_iso(requested) if isinstance(requested, str) else self._clock()
        due = occurrence_due(campaign.merchant_id, campaign.id, now)
        if isinstance(view(campaign.id, campaign.status, campaign.data).schedule, OnceSchedule):
            pending = [i for i in self._due.of_campaign(campaign.merchant_id, campaign.id)
                       if i.kind is DueKind.OCCURRENCE and i.status == "pending" and i.sk != due.sk]
            self._due.mark_done(pending, now, status="replaced")
        self._due.put(due, now)
        return now

    def on_paused(self, campaign: Record) -> None:
        """Nothing to write: workers see the status in their transaction and park what is not yet handed over."""

    def on_resumed(self, campaign: Record) -> int:
        """Re-enqueue parked chunks; a once campaign's parked occurrence starts now."""
        now = self._clock()
        parked = [i for i in self._due.of_campaign(campaign.merchant_id, campaign.id) if i.kind is DueKind.PARKED]
        chunks = [i for i in parked if "chunk_id" in i.payload]
        if chunks:
            self._queues.send_chunks([chunk_message_of(i) for i in chunks])
        for item in parked:
            if "occurrence" in item.payload:
                due = occurrence_due(campaign.merchant_id, campaign.id, parse_iso(item.payload["occurrence"]))
                self._due.put(type(due)(due.merchant_id, due.sk, due.kind, now, due.payload,
                                        campaign_id=due.campaign_id), now, only_new=False)
        self._due.delete(parked)
        return len(parked)

    def on_cancelled(self, campaign: Record) -> dict[str, Any]:
        """Drop scheduled work (occurrences, slices, touches, parked chunks) and close open runs."""
        now = self._clock()
        items = self._due.of_campaign(campaign.merchant_id, campaign.id)
        self._due.mark_done(items, now, status="cancelled")
        closed = 0
        start: dict[str, Any] | None = None
        while True:
            runs, start = self._runs.list_runs(campaign.merchant_id, campaign.id, 100, start)
            for run in runs:
                if run.status in OPEN_RUNS:
                    closed += self._runs.set_run_status(run, RunStatus.CANCELLED, now, OPEN_RUNS)
            if start is None:
                break
        return {"due_dropped": len(items), "runs_cancelled": closed}
