"""The tick: claim due work minute by minute (catching up), start runs, enqueue plan and chunk work."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib.core.clock import parse_iso, to_iso
from chalicelib.core.errors import Conflict
from chalicelib.core.ports import Repo
from chalicelib.core.tx import TxCancelled
from chalicelib.dispatch.claims import TickPart, enqueue_chunks
from chalicelib.dispatch.model import ChunkState, DueItem, DueKind, RunStatus, minute_of, minutes_between
from chalicelib.dispatch.occurrences import OccurrenceStarter
from chalicelib.dispatch.ports import Committer, DeliveryLog, DueRepo, QueuePort, RunRepo, WinnerPort
from chalicelib.dispatch.touches import TouchBatcher

log = logging.getLogger(__name__)
REREAD_MINUTES = 5  # the due index is a GSI (eventually consistent): recent buckets are read again
MAX_CATCHUP = timedelta(days=3)


class TickService(TickPart):
    """The minute tick: claims what is due and hands each kind to its part (occurrences, slices and deferrals,
    touches, run checks)."""

    def __init__(self, due: DueRepo, runs: RunRepo, commit: Committer, queues: QueuePort, campaigns: Repo,
                 timezone_of: Callable[[str], str], winners: WinnerPort | None = None,
                 log: DeliveryLog | None = None) -> None:
        super().__init__(due, runs, commit, queues, campaigns, timezone_of)
        self._occurrences = OccurrenceStarter(due, runs, commit, queues, campaigns, timezone_of)
        self._occurrences.winners = winners
        self._touches = TouchBatcher(due, runs, commit, queues, campaigns, timezone_of, log)

    def tick(self, now: datetime) -> dict[str, Any]:
        """Process every bucket from the watermark (or the last 5 minutes) up to now's minute."""
        minute = minute_of(now)
        mark = self._due.watermark()
        # The re-read window trails the watermark, not the clock: an item written into a minute the last tick had
        # already read (a due time already past lands in the writer's minute) is found after ticks failed or
        # stopped for longer than the window, too.
        start = min(minute, mark + timedelta(minutes=1) if mark is not None else minute)
        start = max(start - timedelta(minutes=REREAD_MINUTES - 1), minute - MAX_CATCHUP)
        counts: dict[str, int] = defaultdict(int)
        for bucket in minutes_between(start, minute):
            items = self._due.in_bucket(bucket)
            if items:
                for kind, n in self.process(items, now).items():
                    counts[kind] += n
            if mark is None or bucket > mark:
                # Bucket by bucket: a failure further on (a throttled query) keeps this progress, so a catch-up
                # after failed ticks does not grow with every failure until no tick can finish.
                self._due.advance_watermark(bucket)
                mark = bucket
        return {"time": to_iso(now), "buckets": len(minutes_between(start, minute)), **counts}

    def process(self, items: list[DueItem], now: datetime) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        by_kind: dict[DueKind, list[DueItem]] = defaultdict(list)
        for item in items:
            if item.due_at <= now or item.status == "claimed":
                by_kind[item.kind].append(item)
        for item in by_kind[DueKind.OCCURRENCE]:
            counts["occurrences"] += self._occurrences.start(item, now)
        counts["chunks"] += enqueue_chunks(self._due, self._commit, self._queues,
                                           by_kind[DueKind.SLICE] + by_kind[DueKind.DEFERRED], now)
        counts["touches"] += self._touches.batch(by_kind[DueKind.TOUCH], now)
        for item in by_kind[DueKind.CHECK]:
            counts["checks"] += self._check(item, now)
        return counts

    def _check(self, item: DueItem, now: datetime) -> int:
        """Is the run complete? Then close it (and end the campaign after its last run); else look again later."""
        try:
            self._commit([self._due.claim_op(item, now)])
        except TxCancelled:
            return 0
        run = self._runs.get_run(item.merchant_id, item.payload["run_id"])
        late = run is not None and run.status is RunStatus.COMPLETE and run.kind == "touches"
        if run is None or run.status is RunStatus.CANCELLED or (run.status is RunStatus.COMPLETE and not late):
            self._due.mark_done([item], now)
            return 1
        chunks = self._runs.chunks_of(run.merchant_id, run.run_id)
        settled = all(c.state in (ChunkState.DONE, ChunkState.CANCELLED) for c in chunks)
        if late:  # a day's touches claimed after its run completed (a tick catching up): open until delivered
            if settled:
                self._due.mark_done([item], now)
                return 1
            self._runs.set_run_status(run, RunStatus.SENDING, now, (RunStatus.COMPLETE,))
            run = replace(run, status=RunStatus.SENDING)
        if run.status is RunStatus.SENDING and settled and len(chunks) >= run.chunks_total:
            self._runs.set_run_status(run, RunStatus.COMPLETE, now, (RunStatus.SENDING,))
            if run.last:
                self._finish_campaign(run.merchant_id, run.campaign_id, now)
            self._due.mark_done([item], now)
            return 1
        age = now - parse_iso(run.started_at) if run.started_at else timedelta(0)
        later = now + timedelta(minutes=1 if age < timedelta(minutes=15) else 5)
        self._due.put(DueItem(item.merchant_id, item.sk, item.kind, later, item.payload, campaign_id=item.campaign_id),
                      now, only_new=False)
        return 1

    def _finish_campaign(self, merchant_id: str, campaign_id: str, now: datetime) -> None:
        try:
            self._campaigns.set_status(merchant_id, campaign_id, "ended", now,
                                       expected_status=("scheduled", "running", "paused"),
                                       data_updates={"ended_at": to_iso(now)})
        except Conflict:
            log.info("campaign %s not ended: its state moved on", campaign_id)
