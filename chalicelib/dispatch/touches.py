"""Triggered touches: due items keyed by (campaign, customer, event), batched by the tick into the day's run."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from chalicelib.campaigns.schedule import local_date, local_to_utc, zone
from chalicelib.core.clock import to_iso
from chalicelib.core.ports import Repo
from chalicelib.dispatch.claims import TickPart, claim, enqueue_chunks
from chalicelib.dispatch.codec import grants_of
from chalicelib.dispatch.messages import chunk_messages
from chalicelib.dispatch.model import (
    Chunk,
    DueItem,
    DueKind,
    Recipient,
    Run,
    RunStatus,
    check_due,
    touch_chunk_id,
    touch_run_id,
)
from chalicelib.dispatch.ports import Committer, DeliveryLog, DueRepo, Op, QueuePort, RunRepo
from chalicelib.dispatch.snapshot import PAUSED, SENDABLE, arm_of, view
from chalicelib.dispatch.tally import Tally

TOUCHES_PER_CHUNK = 90  # claims + run + chunk + completion check + reports' counters: one TransactWriteItems
# A day's touches can still be claimed a little after the day ends (the tick catching up): the run is checked
# for completion this long after the merchant's local midnight, and again after any later chunk.
CLOSE_GRACE = timedelta(hours=1)


def touch_due(merchant_id: str, campaign_id: str, customer_id: str, event_id: str, due_at: datetime) -> DueItem:
    """The deterministic key is the dedup: each event touches a customer at most once per campaign."""
    return DueItem(merchant_id, f"touch#{campaign_id}#{customer_id}#{event_id}", DueKind.TOUCH, due_at,
                   {"campaign_id": campaign_id, "customer_id": customer_id, "event_id": event_id},
                   campaign_id=campaign_id)


class TouchBatcher(TickPart):
    """Groups due touches per (campaign, local day) into that day's run, chunk by chunk."""

    def __init__(self, due: DueRepo, runs: RunRepo, commit: Committer, queues: QueuePort, campaigns: Repo,
                 timezone_of: Callable[[str], str], log: DeliveryLog | None = None) -> None:
        super().__init__(due, runs, commit, queues, campaigns, timezone_of)
        self._tally = Tally(log, runs, commit)

    def batch(self, items: list[DueItem], now: datetime) -> int:
        groups: dict[tuple[str, str], list[DueItem]] = defaultdict(list)
        for item in items:
            groups[(item.merchant_id, item.payload["campaign_id"])].append(item)
        done = 0
        for (merchant_id, campaign_id), group in groups.items():
            done += self._group(merchant_id, campaign_id, group, now)
        return done

    def _group(self, merchant_id: str, campaign_id: str, group: list[DueItem], now: datetime) -> int:
        redo = [i for i in group if i.payload.get("chunk_id")]  # claimed before a crash: the chunk exists
        if redo:
            enqueue_chunks(self._due, self._commit, self._queues, redo, now)
        fresh = [i for i in group if not i.payload.get("chunk_id")]
        record = self._campaigns.get(merchant_id, campaign_id)
        if record is None or (record.status not in SENDABLE and record.status != PAUSED):
            self._due.mark_done(claim(self._due, self._commit, fresh, now), now, status="dropped")
            return len(redo)
        tz = self._tz(merchant_id)
        by_day: dict[str, list[DueItem]] = defaultdict(list)
        for item in fresh:
            by_day[local_date(item.due_at, zone(tz)).isoformat()].append(item)
        sent = len(redo)
        for day, items in by_day.items():
            run = Run(merchant_id, touch_run_id(merchant_id, campaign_id, day), campaign_id,
                      min(i.due_at for i in items), record.data, RunStatus.SENDING, segments_total=0,
                      kind="touches", started_at=to_iso(now), extra={"local_day": day})
            arms: dict[str | None, list[DueItem]] = defaultdict(list)  # one treatment per chunk
            for item in items:
                arms[arm_of(record.data, campaign_id, item.payload["customer_id"])].append(item)
            for arm, group in arms.items():
                for start in range(0, len(group), TOUCHES_PER_CHUNK):
                    sent += self._chunk(run, group[start:start + TOUCHES_PER_CHUNK], now, arm)
        return sent

    def _chunk(self, run: Run, items: list[DueItem], now: datetime, arm: str | None = None) -> int:
        """One transaction: the claims, the day's run (created or counted up), the chunk and the run's check."""
        def chunk_of(group: list[DueItem]) -> Chunk:  # its id derives from its touches: a retry without the lost
            customers = list(dict.fromkeys(i.payload["customer_id"] for i in group))  # ones is another chunk
            return Chunk(run.merchant_id, run.run_id, touch_chunk_id([i.sk for i in group]),
                         [Recipient(c, resolve=True) for c in customers], campaign_id=run.campaign_id, arm=arm,
                         grants=grants_of(view(run.campaign_id, None, run.snapshot, arm).coupons))

        def ops(group: list[DueItem]) -> list[Op]:
            chunk = chunk_of(group)
            claims = [self._due.claim_op(i, now, {**i.payload, "chunk_id": chunk.chunk_id, "run_id": run.run_id})
                      for i in group]
            return [*claims, self._runs.upsert_run_op(run, len(chunk.recipients), 1),
                    *self._tally.planned_ops(run, [chunk], now), self._runs.put_chunk_op(chunk, now),
                    self._due.put_op(check_due(run.merchant_id, run.run_id, run.campaign_id, self._closes(run, now)),
                                     now, only_new=False)]

        claimed = claim(self._due, self._commit, items, now, ops)
        if not claimed:
            return 0
        self._queues.send_chunks(chunk_messages(run.merchant_id, run.run_id, [chunk_of(claimed).chunk_id]))
        self._due.mark_done(claimed, now)
        return len(claimed)

    def _closes(self, run: Run, now: datetime) -> datetime:
        """When the day's run is looked at for completion: after its local day (and any chunk added later)."""
        day = date.fromisoformat(str(run.extra["local_day"]))
        end = local_to_utc(day + timedelta(days=1), time(0), zone(self._tz(run.merchant_id)))
        return max(end + CLOSE_GRACE, now + timedelta(minutes=1))
