"""plan_run: resolve one segment of a run's target into recipient chunks, resumable and exactly once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any, Protocol

from chalicelib.audiences.builtin import RfmSettings, rfm_median
from chalicelib.campaigns.schedule_triggered import TriggeredSchedule
from chalicelib.customers.rows import CustomerRow
from chalicelib.customers.store import shard_of
from chalicelib.dispatch.model import (
    CHUNK_MAX,
    SEGMENTS,
    TX_MAX_ITEMS,
    Chunk,
    DueKind,
    Recipient,
    Run,
    RunStatus,
    TxCancelled,
    check_due,
    chunk_due,
    chunk_id_for,
)
from chalicelib.dispatch.policy import GuardrailPolicy
from chalicelib.dispatch.ports import Committer, CouponPort, CustomerSource, DueRepo, QueuePort, RunRepo
from chalicelib.dispatch.snapshot import CampaignView, view
from chalicelib.dispatch.targets import Target, birthday_test, build_target, facts_of, recipient_of

log = logging.getLogger(__name__)
CHUNKS_PER_FLUSH = 10  # one TransactWriteItems and one SendMessageBatch per ~1,000 recipients
MIN_TIME_LEFT_MS = 60_000


class PlanEnv(Protocol):
    """Merchant-level inputs of planning."""

    def timezone(self, merchant_id: str) -> str: ...

    def recipient_cap(self, merchant_id: str) -> int: ...

    def rfm(self, merchant_id: str) -> RfmSettings: ...

    def audience(self, merchant_id: str, audience_id: str) -> dict[str, Any] | None: ...

    def member_ids(self, merchant_id: str, audience_id: str, shard: int, after: str | None
                   ) -> Iterator[list[str]]: ...


class Superseded(Exception):
    """Another delivery of the same plan message moved the segment on first: this one stops."""


@dataclass
class _Segment:
    count: int | None  # chunks written so far (None: the segment item does not exist yet)
    cursor: str | None


def chunk_size(coupon_items: int, fixed_items: int, policy_items: int) -> int:
    """Recipients per chunk so that one chunk's delivery fits one TransactWriteItems (ledger, gate, counters)."""
    per = max(1, coupon_items + policy_items)
    return max(1, min(CHUNK_MAX, (TX_MAX_ITEMS - 2 - fixed_items) // per))


def split(recipients: list[Recipient], base: int, size: int, batch: int | None) -> list[tuple[list[Recipient], int]]:
    """Chunks of ≤ size recipients, never straddling a batched-sending slice; returns (chunk, slice) pairs.

    Held-out recipients take no position: they ride along with their neighbours.
    """
    out: list[tuple[list[Recipient], int]] = []
    current: list[Recipient] = []
    current_slice = -1
    position = base
    for r in recipients:
        slice_no = (position // batch) if batch else 0
        if current and (len(current) >= size or (not r.held_out and slice_no != current_slice)):
            out.append((current, current_slice))
            current = []
        if not current:
            current_slice = slice_no
        current.append(r)
        if not r.held_out:
            position += 1
    if current:
        out.append((current, current_slice))
    return out


class PlanService:
    def __init__(self, runs: RunRepo, commit: Committer, queues: QueuePort, due: DueRepo,
                 customers: CustomerSource, coupons: CouponPort, policy: GuardrailPolicy, env: PlanEnv) -> None:
        self._runs = runs
        self._commit = commit
        self._queues = queues
        self._due = due
        self._customers = customers
        self._coupons = coupons
        self._policy = policy
        self._env = env

    def plan_segment(self, merchant_id: str, run_id: str, segment: int, now: datetime,
                     time_left_ms: Callable[[], int] = lambda: 900_000) -> dict[str, Any]:
        run, seg = self._runs.get_run_and_segment(merchant_id, run_id, segment)
        if run is None or run.status is RunStatus.CANCELLED:
            return {"skipped": "no run" if run is None else "cancelled"}
        state = _Segment(None, None)
        if seg is not None:
            state = _Segment(int(seg.get("count") or 0), seg.get("cursor"))
            self._send_chunks(merchant_id, run_id, list(seg.get("last_chunks") or ()))  # a crash may have lost them
            if seg.get("done") == "done":
                return {"skipped": "segment done"}
        campaign = view(run.campaign_id, "running", run.snapshot)
        tz = self._env.timezone(merchant_id)
        target = self._target(merchant_id, run, campaign, tz)
        size = chunk_size(self._coupons.items_per_recipient(merchant_id, campaign), self._coupons.fixed_items(campaign),
                          self._policy.items_per_recipient)
        try:
            return self._plan(run, campaign, segment, state, target, size, now, time_left_ms)
        except Superseded:
            return {"skipped": "superseded"}

    def _plan(self, run: Run, campaign: CampaignView, segment: int, state: _Segment, target: Target, size: int,
              now: datetime, time_left_ms: Callable[[], int]) -> dict[str, Any]:
        merchant_id, run_id = run.merchant_id, run.run_id
        cap = self._env.recipient_cap(merchant_id)
        pending: list[Recipient] = []
        chunks = 0
        for row in self._rows(merchant_id, segment, state.cursor, target):
            if not target.test(row):
                continue
            pending.append(recipient_of(row, run.campaign_id, campaign.holdout_percent))
            if len(pending) >= size * CHUNKS_PER_FLUSH:
                chunks += self._flush(run, campaign, segment, state, pending, size, cap, now, final=False)
                pending = []
                if time_left_ms() < MIN_TIME_LEFT_MS:
                    self._queues.send("plan", [{"v": 1, "merchant_id": merchant_id, "run_id": run_id,
                                                "segment": segment}])
                    return {"chunks": chunks, "continued": True}
        chunks += self._flush(run, campaign, segment, state, pending, size, cap, now, final=True)
        self._due.put(check_due(merchant_id, run_id, run.campaign_id, now), now, only_new=False)
        return {"chunks": chunks}

    def _target(self, merchant_id: str, run: Run, campaign: CampaignView, tz: str) -> Target:
        rfm = self._env.rfm(merchant_id)
        aid = campaign.target.get("audience_id")
        audience = self._env.audience(merchant_id, str(aid)) if aid else None
        target = build_target(campaign.target, tz, run.occurrence, audience=audience, rfm=rfm)
        if target.needs_median:
            median = self._median(merchant_id, tz, run.occurrence)
            target = build_target(campaign.target, tz, run.occurrence, audience=audience, rfm=rfm, median=median)
        schedule = campaign.schedule
        if isinstance(schedule, TriggeredSchedule) and run.kind == "birthday":
            base, bday = target.test, birthday_test(schedule.delay_days, tz, run.occurrence)
            target = Target(lambda row: bday(row) and base(row), target.members, stored=target.stored)
        return target

    def _median(self, merchant_id: str, tz: str, as_of: datetime) -> Fraction | None:
        """RFM's median needs every customer of the merchant (each segment computes it; same inputs, same value)."""
        facts = (facts_of(row, tz, as_of) for shard in range(SEGMENTS)
                 for page in self._customers.pages_after(merchant_id, shard, None) for row in page if row.profile)
        return rfm_median(facts)

    def _rows(self, merchant_id: str, segment: int, cursor: str | None, target: Target) -> Iterator[CustomerRow]:
        if target.stored is not None:
            for ids in self._env.member_ids(merchant_id, target.stored, segment, cursor):
                for start in range(0, len(ids), 100):
                    rows = self._customers.get_rows(merchant_id, ids[start:start + 100])
                    yield from (rows[c] for c in ids[start:start + 100])
            return
        if target.members is None:
            for page in self._customers.pages_after(merchant_id, segment, cursor):
                yield from page
            return
        ids = sorted(c for c in target.members if shard_of(c, SEGMENTS) == segment and (cursor is None or c > cursor))
        for start in range(0, len(ids), 100):
            rows = self._customers.get_rows(merchant_id, ids[start:start + 100])
            yield from (rows[c] for c in ids[start:start + 100])

    def _flush(self, run: Run, campaign: CampaignView, segment: int, state: _Segment, recipients: list[Recipient],
               size: int, cap: int, now: datetime, final: bool) -> int:
        """Write the chunks of `recipients` with the segment's progress and the run's positions, atomically."""
        for _ in range(20):
            current = self._runs.get_run(run.merchant_id, run.run_id)
            if current is None:
                return 0
            placed = self._place(current, recipients, cap)
            parts = split(placed, current.planned, size, campaign.batch_size)
            count = state.count or 0
            ops: list[Any] = []
            send_now: list[str] = []
            for i, (members, slice_no) in enumerate(parts):
                chunk = Chunk(run.merchant_id, run.run_id, chunk_id_for(segment, count + i), members,
                              campaign_id=run.campaign_id)
                ops.append(self._runs.put_chunk_op(chunk, now))
                due_at = run.occurrence + timedelta(minutes=slice_no * campaign.interval_minutes)
                if campaign.batch_size and due_at > now:
                    ops.append(self._due.put_op(chunk_due(run.merchant_id, DueKind.SLICE, run.run_id, chunk.chunk_id,
                                                          run.campaign_id, due_at), now))
                else:
                    send_now.append(chunk.chunk_id)
            added = sum(1 for r in placed if not r.held_out)
            cursor = recipients[-1].customer_id if recipients else state.cursor
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
    def _place(run: Run, recipients: list[Recipient], cap: int) -> list[Recipient]:
        """Mark recipients past the per-send cap (positions are global over the run)."""
        out, position = [], run.planned
        for r in recipients:
            if not r.held_out:
                if position >= cap:
                    r = Recipient(**{**r.__dict__, "over_cap": True})
                position += 1
            out.append(r)
        return out

    def _send_chunks(self, merchant_id: str, run_id: str, chunk_ids: list[str]) -> None:
        if chunk_ids:
            self._queues.send("dispatch", [{"v": 1, "merchant_id": merchant_id, "run_id": run_id, "chunk_id": c}
                                           for c in chunk_ids])
