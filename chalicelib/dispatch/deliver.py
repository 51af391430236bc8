"""deliver_chunk: one chunk's recipients screened, issued and handed over exactly once under crashes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.core.clock import parse_iso, to_iso
from chalicelib.core.ports import Repo
from chalicelib.core.tx import TxCancelled, join_update
from chalicelib.customers.rows import CustomerRow
from chalicelib.dispatch.messages import chunk_messages
from chalicelib.dispatch.model import (
    LEASE_SECONDS,
    RETRY_GIVE_UP,
    RETRYING,
    Chunk,
    ChunkState,
    DueKind,
    Entry,
    IssueFailed,
    Later,
    Outcome,
    Recipient,
    Run,
    chunk_due,
)
from chalicelib.dispatch.plan import PlanEnv
from chalicelib.dispatch.ports import (
    ChannelPort,
    Committer,
    CouponPort,
    CustomerSource,
    DeliveryLog,
    DueRepo,
    Op,
    Preflight,
    QueuePort,
    ReachSink,
    RunRepo,
)
from chalicelib.dispatch.reaches import Reach, reaches_of, window_days
from chalicelib.dispatch.screening import NOT_IN_TARGET, SHARED, GuardrailPolicy, PolicyContext, group_size, screen
from chalicelib.dispatch.snapshot import CANCELLED, PAUSED, SENDABLE, CampaignView, view
from chalicelib.dispatch.store import LeaseRefused
from chalicelib.dispatch.tally import Tally
from chalicelib.dispatch.targets import recipient_of

log = logging.getLogger(__name__)
UNKNOWN_AFTER_CRASH = "unknown_after_crash"
WALLET = "wallet"


class DeliverService:
    def __init__(self, runs: RunRepo, commit: Committer, due: DueRepo, queues: QueuePort, campaigns: Repo,
                 gate: Callable[[str, str], Op], customers: CustomerSource, coupons: CouponPort,
                 channel_for: Callable[[str], ChannelPort], policy: GuardrailPolicy,
                 timezone_of: Callable[[str], str], env: PlanEnv | None = None,
                 lease_seconds: int = LEASE_SECONDS, reaches: ReachSink | None = None,
                 log: DeliveryLog | None = None) -> None:
        self._env = env
        self._tally = Tally(log, runs, commit)  # reports' counters ride in each chunk's release commit
        self._reaches = reaches
        self._runs = runs
        self._commit = commit
        self._due = due
        self._queues = queues
        self._campaigns = campaigns
        self._gate = gate
        self._customers = customers
        self._coupons = coupons
        self._channel_for = channel_for
        self._policy = policy
        self._tz = timezone_of
        self._lease = lease_seconds
        self._run_cache: dict[tuple[str, str], Run] = {}  # snapshots never change: one read per warm worker

    def deliver_chunk(self, merchant_id: str, run_id: str, chunk_id: str, owner: str, receives: int,
                      now: datetime) -> str:
        """Returns what happened: done, waiting, parked, cancelled, or skipped:<why>."""
        try:
            chunk = self._runs.lease(merchant_id, run_id, chunk_id, owner, now, receives, self._lease)
        except LeaseRefused as refused:
            if refused.why == "leased":
                raise RuntimeError("chunk is leased by a live worker") from refused
            if refused.chunk is not None:  # the worker that finished it may have died before recording reaches
                self._record_reaches(refused.chunk, now)
                self._tally.settle(refused.chunk, self._run(merchant_id, run_id), now)
            return f"skipped:{refused.why}"
        try:
            result = self._deliver(chunk, owner, now)
        except Exception as exc:
            detail = getattr(exc, "cause_response_message", None) or str(exc)
            self._runs.record_failure(merchant_id, run_id, chunk_id, owner, f"{type(exc).__name__}: {detail}", now)
            raise
        if not result.startswith("skipped"):
            self._record_reaches(chunk, now)  # the ledger in hand is the one just committed
        return result

    def _record_reaches(self, chunk: Chunk, now: datetime) -> None:
        """Reached and held-out customers to attribution, once their outcomes are committed.

        Rebuilt from the stored ledger, so a repeat (after a crash between the outcome and this call, the
        redelivery finds the chunk done and records again) writes the same reaches: no doubled reaches.
        """
        if self._reaches is None:
            return
        reaches = reaches_of(chunk, self._run(chunk.merchant_id, chunk.run_id))
        if reaches:
            self._reaches.record_reaches(chunk.merchant_id, reaches, now=now)

    def _run(self, merchant_id: str, run_id: str) -> Run:
        key = (merchant_id, run_id)
        if key not in self._run_cache:
            if len(self._run_cache) > 256:
                self._run_cache.clear()
            run = self._runs.get_run(merchant_id, run_id)
            if run is None:
                raise LookupError(f"run {run_id} is missing")
            self._run_cache[key] = run
        return self._run_cache[key]

    def _deliver(self, chunk: Chunk, owner: str, now: datetime) -> str:
        run = self._run(chunk.merchant_id, chunk.run_id)
        campaign = view(run.campaign_id, "running", run.snapshot, chunk.arm)  # the chunk's treatment, if any
        channel = None if campaign.channel == WALLET else self._channel_for(campaign.channel)
        ctx = PolicyContext(chunk.merchant_id, run.run_id, campaign, self._tz(chunk.merchant_id), now, run.occurrence,
                            run.kind)
        stamp = to_iso(now)
        self._resolve(chunk, campaign, ctx)
        resend: list[Recipient] = []
        for r in chunk.open_recipients():
            entry = chunk.ledger.get(r.customer_id)
            if entry is not None and entry.outcome is Outcome.RETRY:
                resend.append(r)  # known not sent: handed over again whatever the channel (see _hand_over)
                continue
            if entry is not None and entry.outcome is Outcome.HANDING:
                if channel is not None and channel.idempotent:
                    resend.append(r)  # the same delivery key again: the channel cannot reach them twice
                else:
                    chunk.ledger[r.customer_id] = Entry(Outcome.FAILED, UNKNOWN_AFTER_CRASH, entry.instances, stamp)
                continue
            verdict = screen(r, campaign.channel)
            if verdict is not None:
                chunk.ledger[r.customer_id] = Entry(verdict[0], verdict[1], at=stamp)
        candidates = [r for r in chunk.open_recipients() if r not in resend]
        if isinstance(channel, Preflight) and candidates:
            # Before anything is committed: a recipient the channel cannot send to (content that cannot render,
            # no phone, no sender...) fails here, with no coupon issued and no cap, quota or stock used.
            for cid, reason in channel.preflight(chunk.merchant_id, campaign, run.run_id, candidates).items():
                chunk.ledger[cid] = Entry(Outcome.FAILED, reason, at=stamp)
            candidates = [r for r in candidates if chunk.ledger.get(r.customer_id) is None
                          or chunk.ledger[r.customer_id].outcome is Outcome.DEFERRED]
        size = self._group_size(chunk, campaign)
        for _ in range(len(chunk.recipients) + 5):
            batch, final = candidates[:size], len(candidates) <= size
            decision = self._policy.decide(ctx, batch)
            sending = [r for r in batch
                       if r.customer_id not in decision.suppressed and r.customer_id not in decision.deferred]
            for r in batch:
                if r.customer_id in decision.suppressed:
                    chunk.ledger[r.customer_id] = Entry(Outcome.SUPPRESSED, decision.suppressed[r.customer_id],
                                                        at=stamp)
                elif r.customer_id in decision.deferred:
                    chunk.ledger[r.customer_id] = Entry(Outcome.DEFERRED, to_iso(decision.deferred[r.customer_id]),
                                                        at=stamp)
            try:
                outcome = self._issue(chunk, run, campaign, sending, decision.writes, channel, owner, now,
                                      bool(resend), final)
            except TxCancelled as exc:
                ended = self._after_cancel(exc, chunk, campaign, batch, owner, now, ctx)
                if ended is not None:
                    return ended
                candidates = [r for r in candidates if (e := chunk.ledger.get(r.customer_id)) is None
                              or e.outcome is Outcome.DEFERRED]
                continue
            candidates = candidates[size:]
            if final:
                if outcome != "handed":
                    return outcome
                break
        else:
            raise RuntimeError("delivery did not settle")
        handing = [r for r in chunk.recipients if (e := chunk.ledger.get(r.customer_id)) is not None
                   and e.outcome in (Outcome.HANDING, Outcome.RETRY)]
        return self._hand_over(chunk, run, campaign, handing, channel, owner, now)

    def _resolve(self, chunk: Chunk, campaign: CampaignView, ctx: PolicyContext) -> None:
        """Triggered touches: read the customers now, apply the target filter (trigger AND filter) and holdout."""
        touches = [r for r in chunk.recipients if r.resolve and r.customer_id not in chunk.ledger]
        if not touches:
            return
        rows = self._customers.get_rows(chunk.merchant_id, [r.customer_id for r in touches])
        known = {c: row for c, row in rows.items() if row.profile is not None}
        members = self._in_target(chunk.merchant_id, campaign, ctx.now, known)
        resolved = {}
        for r in touches:
            row = known.get(r.customer_id)
            if row is None or (members is not None and r.customer_id not in members):
                chunk.ledger[r.customer_id] = Entry(Outcome.SUPPRESSED, NOT_IN_TARGET, at=to_iso(ctx.now))
            else:
                resolved[r.customer_id] = recipient_of(row, campaign.campaign_id, campaign.holdout_percent)
        chunk.recipients = [resolved.get(r.customer_id, r) for r in chunk.recipients]

    def _in_target(self, merchant_id: str, campaign: CampaignView, now: datetime, rows: dict[str, CustomerRow]
                   ) -> set[str] | None:
        """The touched customers the campaign's target (the filter ANDed with the trigger) holds now."""
        if not campaign.target or self._env is None:
            return None
        selector = self._env.targets.selector(merchant_id, campaign.target)
        return set() if selector is None else self._env.targets.members_among(merchant_id, selector, now, rows)

    def _issue(self, chunk: Chunk, run: Run, campaign: CampaignView, sending: list[Recipient],
               writes: list[tuple[str, Any]], channel: ChannelPort | None, owner: str, now: datetime,
               resending: bool, final: bool) -> str:
        """One transaction: coupons, guardrail writes, the ledger, gated on the campaign still sending.

        A chunk whose writes exceed one transaction goes in several (`final` on the last): each records its
        part of the ledger under the lease, so a crash between them redoes only what was not recorded.
        """
        ids = [r.customer_id for r in sending]
        ops: list[Op] = [self._gate(chunk.merchant_id, campaign.campaign_id)]
        instances: dict[str, tuple[str, ...]] = {}
        if ids and campaign.coupons:
            try:
                coupon_ops, instances = self._coupons.issue_ops(chunk.merchant_id, campaign, run.run_id, ids,
                                                                channel is None, now)
            except IssueFailed as failed:
                for cid in ids:
                    chunk.ledger[cid] = Entry(Outcome.FAILED, failed.reason, at=to_iso(now))
                ids, sending = [], []
                coupon_ops = []
            ops += coupon_ops
        ops += [op for cid, op in writes if cid in ids or (cid == SHARED and ids)]
        if chunk.chunk_id.startswith("T"):  # a day's touches come in many chunks: one delivery per customer
            ops += [self._runs.delivery_marker_op(chunk.merchant_id, chunk.run_id, cid) for cid in ids]
        given = Outcome.SUCCEEDED if channel is None else Outcome.HANDING
        joined = self._join_reaches(chunk.merchant_id, run, ids, instances, ops, now) if channel is None else set()
        for cid in ids:
            chunk.ledger[cid] = Entry(given, None, instances.get(cid, ()), to_iso(now), cid in joined)
        deferred = [parse_iso(e.reason) for e in chunk.ledger.values() if e.outcome is Outcome.DEFERRED and e.reason]
        # Earlier groups of this chunk may have recorded `handing` entries while this last group sends nobody
        # (all suppressed): the chunk still has to hand those over before it is done.
        handing = channel is not None and (bool(ids) or resending or any(
            e.outcome is Outcome.HANDING for e in chunk.ledger.values()))
        state = ChunkState.WAITING if deferred else (ChunkState.READY if handing else ChunkState.DONE)
        if not final:
            state = ChunkState.READY
        release = final and not handing
        ops.append(self._runs.chunk_commit_op(chunk, owner, state, now, release=release))
        if final and deferred:
            ops.append(self._due.put_op(chunk_due(chunk.merchant_id, DueKind.DEFERRED, chunk.run_id, chunk.chunk_id,
                                                  campaign.campaign_id, min(deferred)), now, only_new=False))
        if release:
            self._tally.commit_release(chunk, run, ops, now)
        else:
            self._commit(ops)
        return "handed" if handing else state.value

    def _join_reaches(self, merchant_id: str, run: Run, ids: list[str], instances: dict[str, tuple[str, ...]],
                      ops: list[Op], now: datetime) -> set[str]:
        """Reaches written by the guard updates already in this transaction (same contact item): no extra write.

        Only for outcomes final at commit (wallet sends). The reach is the one reaches_of would rebuild from the
        ledger entry, so a later re-recording of the same chunk adds nothing; customers without such an update
        (no guardrail write) are recorded after the commit as before.
        """
        if self._reaches is None:
            return set()
        stamp = parse_iso(to_iso(now))
        window = window_days(run.snapshot)
        joined = set()
        for cid in ids:
            reach = Reach(cid, run.campaign_id, run.run_id, stamp, False, instances.get(cid, ()), window)
            table, pk, sk, actions = self._reaches.reach_update(merchant_id, reach, now)
            if join_update(ops, table, pk, sk, actions):
                joined.add(cid)
        return joined

    def _group_size(self, chunk: Chunk, campaign: CampaignView) -> int:
        """Recipients whose writes fit one transaction with the ledger item, the gate and the stock counters."""
        per = self._coupons.items_per_recipient(chunk.merchant_id, campaign) if campaign.coupons else 0
        per += self._policy.items_per_recipient + (1 if chunk.chunk_id.startswith("T") else 0)
        return group_size(per, self._coupons.fixed_items(campaign) + self._policy.fixed_items(campaign))

    def _after_cancel(self, exc: TxCancelled, chunk: Chunk, campaign: CampaignView, candidates: list[Recipient],
                      owner: str, now: datetime, ctx: PolicyContext) -> str | None:
        """Why the transaction failed; a verdict ends the delivery, None retries with the ledger adjusted."""
        stamp = to_iso(now)
        if any(t.startswith("chunk:") for t in exc.failed):
            return "skipped:lease lost"
        for r in candidates:  # undo this attempt's optimistic entries (a park or cancel commits the ledger)
            entry = chunk.ledger.get(r.customer_id)
            if entry is not None and entry.outcome in (Outcome.SUCCEEDED, Outcome.HANDING) and entry.reason is None:
                chunk.ledger.pop(r.customer_id)
        if any(t.startswith("campaign:") for t in exc.failed):
            record = self._campaigns.get(chunk.merchant_id, campaign.campaign_id)
            status = record.status if record else CANCELLED
            if status == PAUSED:
                return self._park(chunk, campaign, owner, now)
            if status not in SENDABLE:
                return self._cancel(chunk, owner, now)
        for cid in exc.tagged("limit:"):
            chunk.ledger[cid] = Entry(Outcome.SUPPRESSED, "customer_limit", at=stamp)
        for cid in exc.tagged("dup:"):
            chunk.ledger[cid] = Entry(Outcome.SUPPRESSED, "already_touched", at=stamp)
        if exc.tagged("policy:"):  # a cap or quota lost its condition: the policy reads back who and why
            sending = [r for r in candidates if r.customer_id not in chunk.ledger]
            for cid, reason in self._policy.explain(ctx, exc.tagged("policy:"), sending).items():
                if cid not in chunk.ledger:  # another verdict of this transaction (already touched...) stands
                    chunk.ledger[cid] = Entry(Outcome.SUPPRESSED, reason, at=stamp)
        for cid in exc.tagged("coupon:"):
            # An instance with this delivery's id exists (issued outside this ledger): never issue it twice.
            chunk.ledger[cid] = Entry(Outcome.SUCCEEDED, "already_issued", at=stamp)
        if exc.tagged("stock:"):
            left = max(0, self._coupons.remaining_stock(chunk.merchant_id, campaign))
            for r in [r for r in candidates if r.customer_id not in chunk.ledger or
                      chunk.ledger[r.customer_id].outcome in (Outcome.SUCCEEDED, Outcome.HANDING)][left:]:
                chunk.ledger[r.customer_id] = Entry(Outcome.FAILED, "out_of_stock", at=stamp)
        return None

    def _hand_over(self, chunk: Chunk, run: Run, campaign: CampaignView, recipients: list[Recipient],
                   channel: ChannelPort | None, owner: str, now: datetime) -> str:
        stamp = to_iso(now)
        retrying = [r for r in recipients if chunk.ledger[r.customer_id].outcome is Outcome.RETRY]
        if retrying:  # recorded as handed over before the call, like every first hand-over
            for r in retrying:
                entry = chunk.ledger[r.customer_id]
                chunk.ledger[r.customer_id] = Entry(Outcome.HANDING, RETRYING, entry.instances, entry.at)
            self._commit([self._runs.chunk_commit_op(chunk, owner, ChunkState.READY, now, release=False)])
        if channel is not None and recipients:
            instances = {r.customer_id: chunk.ledger[r.customer_id].instances for r in recipients}
            results = channel.send(chunk.merchant_id, campaign, run.run_id, recipients, instances, now)
            for r in recipients:
                result = results.get(r.customer_id, "no_result")
                chunk.ledger[r.customer_id] = self._settled(chunk.ledger[r.customer_id], result, now) \
                    if isinstance(result, Later) else \
                    Entry(Outcome.SUCCEEDED if result is None else Outcome.FAILED, result, instances[r.customer_id],
                          stamp)
        waits = [parse_iso(e.reason) for e in chunk.ledger.values()
                 if e.outcome in (Outcome.DEFERRED, Outcome.RETRY) and e.reason]
        state = ChunkState.WAITING if waits else ChunkState.DONE
        ops = [self._runs.chunk_commit_op(chunk, owner, state, now, release=True)]
        if any(e.outcome is Outcome.RETRY for e in chunk.ledger.values()):
            ops.append(self._due.put_op(chunk_due(chunk.merchant_id, DueKind.DEFERRED, chunk.run_id, chunk.chunk_id,
                                                  campaign.campaign_id, min(waits)), now, only_new=False))
        self._tally.commit_release(chunk, run, ops, now)
        return state.value

    @staticmethod
    def _settled(entry: Entry, later: Later, now: datetime) -> Entry:
        """A recipient the channel did not send to: waits until `later.at`, or fails once it waited too long."""
        first = parse_iso(entry.at) if entry.reason == RETRYING and entry.at else now
        if now - first >= RETRY_GIVE_UP:
            return Entry(Outcome.FAILED, later.reason, entry.instances, to_iso(now))
        return Entry(Outcome.RETRY, to_iso(max(later.at, now)), entry.instances, to_iso(first))

    def _park(self, chunk: Chunk, campaign: CampaignView, owner: str, now: datetime) -> str:
        parked = chunk_due(chunk.merchant_id, DueKind.PARKED, chunk.run_id, chunk.chunk_id, campaign.campaign_id, now)
        self._tally.commit_release(chunk, self._run(chunk.merchant_id, chunk.run_id), [
            self._runs.chunk_commit_op(chunk, owner, ChunkState.PARKED, now, release=True),
            self._due.put_op(parked, now, only_new=False)], now)
        record = self._campaigns.get(chunk.merchant_id, campaign.campaign_id)
        if record is not None and record.status in SENDABLE:  # resumed meanwhile: resume may not have seen it
            self._due.delete([parked])
            self._queues.send_chunks(chunk_messages(chunk.merchant_id, chunk.run_id, [chunk.chunk_id]))
        return "parked"

    def _cancel(self, chunk: Chunk, owner: str, now: datetime) -> str:
        stamp = to_iso(now)
        for r in chunk.open_recipients():
            entry = chunk.ledger.get(r.customer_id)
            if entry is not None and entry.outcome is Outcome.HANDING:
                chunk.ledger[r.customer_id] = Entry(Outcome.FAILED, UNKNOWN_AFTER_CRASH, entry.instances, stamp)
            else:  # never handed over (a retry entry is known not sent): its coupons stay where they are
                chunk.ledger[r.customer_id] = Entry(Outcome.CANCELLED, "cancelled",
                                                    entry.instances if entry is not None else (), stamp)
        self._tally.commit_release(chunk, self._run(chunk.merchant_id, chunk.run_id), [
            self._runs.chunk_commit_op(chunk, owner, ChunkState.CANCELLED, now, release=True)], now)
        return "cancelled"
