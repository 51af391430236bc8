"""Dispatch domain: due items, runs, chunks, recipients, ledger outcomes and the pure key builders."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from chalicelib.core.clock import to_iso

SEGMENTS = 16  # plan work per run: one message per customer shard
# An explicit customer list this short is planned by one segment over all shards: its recipients fill whole
# chunks (16 segments would each make a chunk of a few, and a webhook call each) and it needs one plan message.
SMALL_LIST = 2_000
# Recipients per chunk. A chunk costs a lease, a share of a queue message and the ledger's final update
# whatever its size, so it holds several delivery transactions; each of them rewrites the chunk item, so the plan
# also packs recipients by bytes (CHUNK_BYTES of recipient data, see codec.py): a chunk item stays a few KB, far
# below DynamoDB's 400 KB whatever the coupons per recipient, and a chunk's channel calls well inside the lease.
CHUNK_MAX = 200
CHUNK_BYTES = 8 * 1024
LEASE_SECONDS = 300  # below the dispatch queue's visibility timeout: a killed worker's lease expires first
MAX_RECEIVES = 5  # the queues' maxReceiveCount (core.resources)
# The customer's contact item in the dispatch table holds both its guardrail counters and its recent reaches
# (reaches for attribution): a wallet delivery updates both in the one write its cap already costs.
CONTACT_SK = "GUARD"
# A recipient a channel keeps backing off (a merchant's failing webhook) waits at most this long, then fails.
RETRY_GIVE_UP = timedelta(hours=24)
RETRYING = "retrying"  # reason of a handing entry that was `retry` before: its `at` is when it first waited
CONTACT_TTL_DAYS = 400  # the item (risk facts span up to a year) goes when the customer is left alone


class DueKind(StrEnum):
    OCCURRENCE = "occurrence"  # a campaign's next scheduled send
    SLICE = "slice"  # a batched-sending chunk due later
    TOUCH = "touch"  # a triggered-campaign touch (campaign, customer, event)
    DEFERRED = "deferred"  # a quiet-hour deferral (guardrails)
    PARKED = "parked"  # a chunk (or occurrence) of a paused campaign, re-enqueued by resume
    CHECK = "check"  # re-check a run for completion


class Outcome(StrEnum):
    """Ledger status of one (run, customer)."""

    HELD_OUT = "held_out"
    SUPPRESSED = "suppressed"
    DEFERRED = "deferred"  # not final: sent later
    HANDING = "handing"  # not final: handed to an external channel, result not yet recorded
    RETRY = "retry"  # not final: committed, not sent (the channel backed off); handed over again at `reason`
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"  # not sent: the campaign was cancelled


FINAL = frozenset({Outcome.HELD_OUT, Outcome.SUPPRESSED, Outcome.SUCCEEDED, Outcome.FAILED, Outcome.CANCELLED})


class ChunkState(StrEnum):
    READY = "ready"
    PARKED = "parked"
    WAITING = "waiting"  # some recipients deferred
    DONE = "done"
    CANCELLED = "cancelled"


class RunStatus(StrEnum):
    PLANNING = "planning"
    SENDING = "sending"
    COMPLETE = "complete"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Recipient:
    """One customer of a chunk and what channels need; `held_out`/`over_cap` are decided at plan time."""

    customer_id: str
    nickname: str | None = None
    phone: str | None = None
    email: str | None = None
    staff_owner: str | None = None
    consent: frozenset[str] = frozenset()
    risk_flagged: bool = False
    held_out: bool = False
    over_cap: bool = False
    resolve: bool = False  # a triggered touch: profile, holdout and target filter decided at dispatch

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"c": self.customer_id}
        for key, value in (("n", self.nickname), ("p", self.phone), ("e", self.email), ("s", self.staff_owner)):
            if value:
                doc[key] = value
        if self.consent:
            doc["ch"] = sorted(self.consent)
        for key, flag in (("rf", self.risk_flagged), ("h", self.held_out), ("q", self.over_cap),
                          ("t", self.resolve)):
            if flag:
                doc[key] = 1
        return doc

    @staticmethod
    def from_doc(doc: dict[str, Any]) -> Recipient:
        return Recipient(doc["c"], doc.get("n"), doc.get("p"), doc.get("e"), doc.get("s"),
                         frozenset(doc.get("ch") or ()), bool(doc.get("rf")), bool(doc.get("h")),
                         bool(doc.get("q")), bool(doc.get("t")))


@dataclass(frozen=True)
class Later:
    """A channel's answer for one recipient: not sent, hand it over again at `at`; `reason` if it never goes."""

    at: datetime
    reason: str


@dataclass(frozen=True)
class Entry:
    """A ledger entry: outcome, reason, coupon instance ids, when; `reach_written`: its reach was written with it."""

    outcome: Outcome
    reason: str | None = None
    instances: tuple[str, ...] = ()
    at: str | None = None
    reach_written: bool = False

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"o": self.outcome.value}
        if self.reason:
            doc["r"] = self.reason
        if self.instances:
            doc["i"] = list(self.instances)
        if self.at:
            doc["at"] = self.at
        if self.reach_written:
            doc["tt"] = 1
        return doc

    @staticmethod
    def from_doc(doc: dict[str, Any]) -> Entry:
        return Entry(Outcome(doc["o"]), doc.get("r"), tuple(doc.get("i") or ()), doc.get("at"), bool(doc.get("tt")))


@dataclass
class Chunk:
    """A chunk of a run's recipients with its ledger (outcomes by customer) and lease bookkeeping."""

    merchant_id: str
    run_id: str
    chunk_id: str
    recipients: list[Recipient]
    ledger: dict[str, Entry] = field(default_factory=dict)
    state: ChunkState = ChunkState.READY
    owner: str | None = None
    attempts: int = 0
    receives: int = 0
    last_error: str | None = None
    campaign_id: str = ""
    arm: str | None = None  # the A/B treatment of every recipient (chunks are planned one treatment each)
    tallied: frozenset[str] = frozenset()  # final entries already counted by reports (dispatch.tally)
    grants: tuple[tuple[str, int], ...] = ()  # the campaign's coupons (id, units): instance ids derive from them
    base: int | None = None  # epoch seconds the ledger's instants count from (set when the chunk is first put)

    def open_recipients(self) -> list[Recipient]:
        """Recipients without a final ledger entry (handing and deferred ones included)."""
        return [r for r in self.recipients if (e := self.ledger.get(r.customer_id)) is None or e.outcome not in FINAL]


@dataclass(frozen=True)
class Run:
    """One occurrence of a campaign (or a local day of a triggered campaign's touches)."""

    merchant_id: str
    run_id: str
    campaign_id: str
    occurrence: datetime
    snapshot: dict[str, Any]
    status: RunStatus = RunStatus.PLANNING
    planned: int = 0
    chunks_total: int = 0
    segments_total: int = SEGMENTS
    segments_done: int = 0
    last: bool = False
    kind: str = "occurrence"
    started_at: str = ""
    completed_at: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DueItem:
    """An entry of the due index."""

    merchant_id: str
    sk: str
    kind: DueKind
    due_at: datetime
    payload: dict[str, Any]
    status: str = "pending"
    campaign_id: str | None = None
    lease_until: str | None = None


def minute_of(instant: datetime) -> datetime:
    """The UTC minute containing `instant`."""
    return instant.astimezone(UTC).replace(second=0, microsecond=0)


def bucket_of(instant: datetime) -> str:
    """The due index's minute bucket key."""
    return "DUE#" + minute_of(instant).strftime("%Y-%m-%dT%H:%M")


def minutes_between(start: datetime, end: datetime) -> list[datetime]:
    """Minutes start..end inclusive."""
    out, cur = [], minute_of(start)
    while cur <= end:
        out.append(cur)
        cur += timedelta(minutes=1)
    return out


def _digest(*parts: str, n: int = 20) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:n]


def run_id_for(merchant_id: str, campaign_id: str, occurrence: datetime) -> str:
    """Deterministic: a replayed tick creates the same run, never a second one."""
    return "run_" + _digest(merchant_id, campaign_id, to_iso(occurrence))


def touch_run_id(merchant_id: str, campaign_id: str, local_day: str) -> str:
    """A triggered campaign's run of one local day."""
    return "run_" + _digest(merchant_id, campaign_id, "touches", local_day)


def touch_chunk_id(touch_keys: list[str]) -> str:
    return "T" + _digest(*sorted(touch_keys), n=16)


def chunk_id_for(segment: int, n: int) -> str:
    return f"{segment:02d}{n:05d}"


def segments_for(target: dict[str, Any]) -> int:
    """Plan segments of a run: one for a short explicit customer list, else one per customer shard."""
    ids = target.get("customer_ids") if target.get("kind") == "customers" else None
    return 1 if isinstance(ids, list) and len(ids) <= SMALL_LIST else SEGMENTS


def contact_key(merchant_id: str, customer_id: str) -> tuple[str, str]:
    """The customer's contact item (guardrail counters and reaches) in the dispatch table."""
    return f"{merchant_id}#GUARD#{customer_id}", CONTACT_SK


def delivery_key(run_id: str, customer_id: str) -> str:
    """The key a channel and the coupon instances derive from (also webhooks' X-Delivery-Id)."""
    return f"{run_id}:{customer_id}"


def holdout(campaign_id: str, customer_id: str, percent: float) -> bool:
    """Deterministic holdout: sha256(campaign + customer) % 10000 < percent * 100."""
    if percent <= 0:
        return False
    value = int(hashlib.sha256(f"{campaign_id}{customer_id}".encode()).hexdigest(), 16) % 10_000
    return value < round(percent * 100)


class IssueFailed(Exception):
    """Coupons cannot be issued to anyone of this chunk (template gone, validity over): `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_due(merchant_id: str, run_id: str, campaign_id: str, at: datetime) -> DueItem:
    """The run's completion re-check (one key per run, re-armed by upsert)."""
    return DueItem(merchant_id, f"check#{run_id}", DueKind.CHECK, at, {"run_id": run_id}, campaign_id=campaign_id)


def chunk_due(merchant_id: str, kind: DueKind, run_id: str, chunk_id: str, campaign_id: str, at: datetime
              ) -> DueItem:
    """A chunk to enqueue at `at` (a later slice, a deferral, a parked chunk)."""
    prefix = f"{kind.value}#" if kind is DueKind.PARKED else f"{to_iso(at)}#{kind.value}#"
    return DueItem(merchant_id, f"{prefix}{run_id}#{chunk_id}", kind, at, {"run_id": run_id, "chunk_id": chunk_id},
                   campaign_id=campaign_id)
