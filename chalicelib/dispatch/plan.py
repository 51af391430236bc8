"""plan_run: resolve one segment of a run's target into recipient chunks, resumable and exactly once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.audiences.model import Member
from chalicelib.campaigns.schedule_triggered import TriggeredSchedule
from chalicelib.core.clock import to_iso
from chalicelib.core.tx import TxCancelled
from chalicelib.dispatch.codec import grants_of, recipient_bytes
from chalicelib.dispatch.messages import PlanMessage, chunk_messages
from chalicelib.dispatch.model import (
    CHUNK_BYTES,
    CHUNK_MAX,
    Chunk,
    DueKind,
    Entry,
    Outcome,
    Recipient,
    Run,
    RunStatus,
    check_due,
    chunk_due,
    chunk_id_for,
)
from chalicelib.dispatch.ports import Committer, CouponPort, DeliveryLog, DueRepo, QueuePort, RunRepo
from chalicelib.dispatch.screening import GuardrailPolicy, chunk_recipients
from chalicelib.dispatch.snapshot import CampaignView, arm_of, treatments, view
from chalicelib.dispatch.tally import Tally
from chalicelib.dispatch.targets import TargetResolver, birthday_test, cursor_of, parse_cursor, recipient_of_member

log = logging.getLogger(__name__)
CHUNKS_PER_FLUSH = 10  # one TransactWriteItems and one SendMessageBatch per ~1,000 recipients
MIN_TIME_LEFT_MS = 60_000  # a segment with less time left commits its cursor and re-enqueues itself
UNKNOWN_CUSTOMER = "unknown_customer"  # a listed id with neither profile nor activity stored


class PlanEnv(Protocol):
    """Merchant-level inputs of planning: the zone, the per-send cap, and targets through the audience engine."""

    targets: TargetResolver

    def timezone(self, merchant_id: str) -> str: ...

    def recipient_cap(self, merchant_id: str) -> int: ...


class Superseded(Exception):
    """Another delivery of the same plan message moved the segment on first: this one stops."""


@dataclass
class _Segment:
    count: int | None  # chunks written so far (None: the segment item does not exist yet)
    cursor: str | None


def chunk_size(coupon_items: int, fixed_items: int, policy_items: int, policy_fixed: int = 0, tail: int = 0) -> int:
    """Recipients per chunk: whole delivery transactions (ledger, gate, counters; see policy.chunk_recipients),
    the last one leaving `tail` items for the tally that rides in the chunk's release commit (dispatch.tally)."""
    return chunk_recipients(coupon_items + policy_items, fixed_items + policy_fixed, tail)


def split(recipients: list[Recipient], base: int, size: int, batch: int | None,
          unplaced: frozenset[str] = frozenset(), max_bytes: int = CHUNK_BYTES) -> list[tuple[list[Recipient], int]]:
    """Chunks of ≤ size recipients and ≤ max_bytes of recipient data (codec.recipient_bytes: a chunk of long
    profiles is shorter), never straddling a batched-sending slice; returns (chunk, slice) pairs.

    Held-out recipients (and `unplaced` ones, settled at plan time) take no position: they ride along with
    their neighbours.
    """
    out: list[tuple[list[Recipient], int]] = []
    current: list[Recipient] = []
    current_slice = -1
    current_bytes = 0
    position = base
    for r in recipients:
        placed = not r.held_out and r.customer_id not in unplaced
        slice_no = (position // batch) if batch else 0
        weight = recipient_bytes(r)
        if current and (len(current) >= size or current_bytes + weight > max_bytes
                        or (placed and slice_no != current_slice)):
            out.append((current, current_slice))
            current, current_bytes = [], 0
        if not current:
            current_slice = slice_no
        current.append(r)
        current_bytes += weight
        if placed:
            position += 1
    if current:
        out.append((current, current_slice))
    return out


def arm_views(run: Run) -> list[CampaignView]:
    """The campaign as each of its treatments' recipients get it (just the campaign without treatments)."""
    names = [t["name"] for t in treatments(run.snapshot)] or [None]
    return [view(run.campaign_id, "running", run.snapshot, name) for name in names]


def split_by_arm(recipients: list[Recipient], run: Run, base: int, size: int, batch: int | None,
                 unplaced: frozenset[str] = frozenset()) -> list[tuple[list[Recipient], int, str | None]]:
    """split() per treatment, so every chunk holds one treatment's recipients; positions run on across them."""
    groups: dict[str | None, list[Recipient]] = {}
    for r in recipients:
        groups.setdefault(arm_of(run.snapshot, run.campaign_id, r.customer_id), []).append(r)
    out: list[tuple[list[Recipient], int, str | None]] = []
    for arm, group in groups.items():
        out += [(members, slice_no, arm) for members, slice_no in split(group, base, size, batch, unplaced)]
        base += sum(1 for r in group if not r.held_out and r.customer_id not in unplaced)
    return out


@dataclass
class _Batch:
    """Recipients read since the last flush; `unknown` ones have nothing stored (settled at plan time)."""

    recipients: list[Recipient] = field(default_factory=list)
    unknown: set[str] = field(default_factory=set)


class PlanService:
    def __init__(self, runs: RunRepo, commit: Committer, queues: QueuePort, due: DueRepo, coupons: CouponPort,
                 policy: GuardrailPolicy, env: PlanEnv, *, flush_recipients: int = CHUNK_MAX * CHUNKS_PER_FLUSH,
                 min_time_left_ms: int = MIN_TIME_LEFT_MS, log: DeliveryLog | None = None) -> None:
        self._runs = runs
        self._tally = Tally(log, runs, commit)
        self._commit = commit
        self._queues = queues
        self._due = due
        self._coupons = coupons
        self._policy = policy
        self._env = env
        self.flush_recipients = flush_recipients  # recipients per commit of chunks (tests make it small)
        self.min_time_left_ms = min_time_left_ms  # below this the segment stops and re-enqueues itself

    def plan_segment(self, merchant_id: str, run_id: str, segment: int, now: datetime,
                     time_left_ms: Callable[[], int] = lambda: 900_000) -> dict[str, Any]:
        run, seg = self._runs.get_run_and_segment(merchant_id, run_id, segment)
        if run is None or run.status is RunStatus.CANCELLED:
            return {"skipped": "no run" if run is None else "cancelled"}
        if run.segments_total and segment >= run.segments_total:  # a run planned by fewer segments
            return {"skipped": "no such segment"}
        state = _Segment(None, None)
        if seg is not None:
            state = _Segment(int(seg.get("count") or 0), seg.get("cursor"))
            self._send_chunks(merchant_id, run_id, list(seg.get("last_chunks") or ()))  # a crash may have lost them
            if seg.get("done") == "done":
                return {"skipped": "segment done"}
        campaign = view(run.campaign_id, "running", run.snapshot)
        size = min(chunk_size(self._coupons.items_per_recipient(merchant_id, arm), self._coupons.fixed_items(arm),
                              self._policy.items_per_recipient, self._policy.fixed_items(arm), self._tally.items)
                   for arm in arm_views(run))  # a chunk of any treatment fits its transactions
        try:
            return self._plan(run, campaign, segment, state, size, now, time_left_ms)
        except Superseded:
            return {"skipped": "superseded"}

    def _plan(self, run: Run, campaign: CampaignView, segment: int, state: _Segment, size: int, now: datetime,
              time_left_ms: Callable[[], int]) -> dict[str, Any]:
        """Read the segment's members from its cursor on; commit chunks every `flush_recipients` with the cursor."""
        merchant_id = run.merchant_id
        targets = self._env.targets
        selector = targets.selector(merchant_id, campaign.target)
        keep = self._birthday_filter(run, campaign)
        batch, cursor, chunks = _Batch(), state.cursor, 0
        pages: Iterator[tuple[list[Member], str]] = iter(())
        if selector is not None:
            targets.prepare(merchant_id, selector, run.occurrence)
            pages = targets.pages(merchant_id, selector, segment, state.cursor, run.occurrence,
                                  run.segments_total or None)
        for members, position in pages:
            shard = parse_cursor(position)[0]
            for m in members:
                if keep is not None and not keep(m):
                    continue
                batch.recipients.append(recipient_of_member(m, run.campaign_id, campaign.holdout_percent))
                if not m.known:
                    batch.unknown.add(m.customer_id)
                if len(batch.recipients) >= self.flush_recipients:
                    # Every customer up to this member is examined: resuming after it loses nobody.
                    chunks += self._flush(run, campaign, segment, state, batch, cursor_of(shard, m.customer_id),
                                          size, now, final=False)
                    batch = _Batch()
                    if time_left_ms() < self.min_time_left_ms:
                        return self._continue(run, segment, chunks)
            cursor = position
            if time_left_ms() < self.min_time_left_ms:
                if batch.recipients or cursor != state.cursor:
                    chunks += self._flush(run, campaign, segment, state, batch, cursor, size, now, final=False)
                return self._continue(run, segment, chunks)
        chunks += self._flush(run, campaign, segment, state, batch, cursor, size, now, final=True)
        self._due.put(check_due(merchant_id, run.run_id, run.campaign_id, now), now, only_new=False)
        return {"chunks": chunks}

    def _continue(self, run: Run, segment: int, chunks: int) -> dict[str, Any]:
        """Out of time: the progress is committed, a fresh invocation resumes from the cursor."""
        self._queues.send_plans([PlanMessage(merchant_id=run.merchant_id, run_id=run.run_id, segment=segment)])
        return {"chunks": chunks, "continued": True}

    def _birthday_filter(self, run: Run, campaign: CampaignView) -> Callable[[Member], bool] | None:
        """A birthday run sends to the target's members whose birthday is the schedule's day."""
        schedule = campaign.schedule
        if not (isinstance(schedule, TriggeredSchedule) and run.kind == "birthday"):
            return None
        test = birthday_test(schedule.delay_days, self._env.timezone(run.merchant_id), run.occurrence)
        return lambda m: test(m.facts.birthday if m.facts else None)

    def _flush(self, run: Run, campaign: CampaignView, segment: int, state: _Segment, batch: _Batch, cursor: str | None,
               size: int, now: datetime, final: bool) -> int:
        """Write the chunks of `batch` with the segment's cursor and the run's positions, atomically."""
        cap = self._env.recipient_cap(run.merchant_id)
        unplaced = frozenset(batch.unknown)
        stamp = to_iso(now)
        for _ in range(20):
            current = self._runs.get_run(run.merchant_id, run.run_id)
            if current is None:
                return 0
            placed = self._place(current, batch.recipients, cap, unplaced)
            parts = split_by_arm(placed, run, current.planned, size, campaign.batch_size, unplaced)
            count = state.count or 0
            ops: list[Any] = []
            send_now: list[str] = []
            chunks: list[tuple[Chunk, int]] = []
            for i, (members, slice_no, arm) in enumerate(parts):
                # Customers nothing is stored about are settled now: suppressed with their reason, never sent.
                settled = {r.customer_id: Entry(Outcome.SUPPRESSED, UNKNOWN_CUSTOMER, at=stamp)
                           for r in members if r.customer_id in unplaced}
                chunks.append((Chunk(run.merchant_id, run.run_id, chunk_id_for(segment, count + i), members, settled,
                                     campaign_id=run.campaign_id, arm=arm,
                                     grants=grants_of(view(run.campaign_id, "running", run.snapshot, arm).coupons)),
                               slice_no))
            ops += self._tally.planned_ops(current, [c for c, _ in chunks], now)
            for chunk, slice_no in chunks:
                ops.append(self._runs.put_chunk_op(chunk, now))
                due_at = run.occurrence + timedelta(minutes=slice_no * campaign.interval_minutes)
                if campaign.batch_size and due_at > now:
                    ops.append(self._due.put_op(chunk_due(run.merchant_id, DueKind.SLICE, run.run_id, chunk.chunk_id,
                                                          run.campaign_id, due_at), now))
                else:
                    send_now.append(chunk.chunk_id)
            added = sum(1 for r in placed if not r.held_out and r.customer_id not in unplaced)
            ops.append(self._runs.segment_op(run.merchant_id, run.run_id, segment, state.count, cursor,
                                             count + len(parts), final, send_now))
            ops.append(self._runs.plan_op(current, current.planned, added, len(parts), final))
            try:
                self._commit(ops)
            except TxCancelled as exc:
                if any(t.startswith("segment:") for t in exc.failed):
                    raise Superseded from exc
                continue  # another segment reserved positions first: re-read and place again
            state.count, state.cursor = count + len(parts), cursor
            self._send_chunks(run.merchant_id, run.run_id, send_now)
            return len(parts)
        raise RuntimeError("could not reserve positions on the run")

    @staticmethod
    def _place(run: Run, recipients: list[Recipient], cap: int, unplaced: frozenset[str]) -> list[Recipient]:
        """Mark recipients past the per-send cap (positions are global over the run)."""
        out, position = [], run.planned
        for r in recipients:
            if not r.held_out and r.customer_id not in unplaced:
                if position >= cap:
                    r = replace(r, over_cap=True)
                position += 1
            out.append(r)
        return out

    def _send_chunks(self, merchant_id: str, run_id: str, chunk_ids: list[str]) -> None:
        if chunk_ids:
            self._queues.send_chunks(chunk_messages(merchant_id, run_id, chunk_ids))
