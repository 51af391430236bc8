"""Ports the dispatch services depend on, so that no service imports boto3 or PynamoDB."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from chalicelib.core.tx import TxOp
from chalicelib.customers.rows import CustomerRow
from chalicelib.dispatch.messages import ChunkMessage, PlanMessage
from chalicelib.dispatch.model import Chunk, ChunkState, DueItem, Entry, Later, Recipient, Run, RunStatus
from chalicelib.dispatch.reaches import Reach
from chalicelib.dispatch.snapshot import CampaignView

Op = TxOp  # a transaction operation built by a store, opaque to the services


class Committer(Protocol):
    def __call__(self, ops: Sequence[Op]) -> None:
        """All or nothing; raises model.TxCancelled naming the failed conditions."""


class DueRepo(Protocol):
    def put(self, due: DueItem, now: datetime, *, only_new: bool = True) -> bool: ...

    def put_op(self, due: DueItem, now: datetime, *, only_new: bool = True) -> Op: ...

    def in_bucket(self, minute: datetime) -> list[DueItem]: ...

    def claim_op(self, due: DueItem, now: datetime, payload: dict[str, Any] | None = None) -> Op: ...

    def mark_done(self, items: Iterable[DueItem], now: datetime, status: str = "done") -> None: ...

    def of_campaign(self, merchant_id: str, campaign_id: str) -> list[DueItem]: ...

    def delete(self, items: Iterable[DueItem]) -> None: ...

    def watermark(self) -> datetime | None: ...

    def advance_watermark(self, minute: datetime) -> None: ...


class RunRepo(Protocol):
    def get_run(self, merchant_id: str, run_id: str) -> Run | None: ...

    def list_runs(self, merchant_id: str, campaign_id: str, limit: int, start_key: dict[str, Any] | None
                  ) -> tuple[list[Run], dict[str, Any] | None]: ...

    def set_run_status(self, run: Run, status: RunStatus, now: datetime, expected: Iterable[RunStatus]) -> bool: ...

    def put_run_op(self, run: Run) -> Op: ...

    def plan_op(self, run: Run, planned_before: int, added: int, chunks: int, segment_done: bool) -> Op: ...

    def get_run_and_segment(self, merchant_id: str, run_id: str, segment: int
                            ) -> tuple[Run | None, dict[str, Any] | None]: ...

    def segment_op(self, merchant_id: str, run_id: str, segment: int, prev_count: int | None, cursor: str | None,
                   count: int, done: bool, sent: list[str]) -> Op: ...

    def put_chunk_op(self, chunk: Chunk, now: datetime) -> Op: ...

    def lease(self, merchant_id: str, run_id: str, chunk_id: str, owner: str, now: datetime, receives: int,
              lease_seconds: int) -> Chunk: ...

    def get_chunk(self, merchant_id: str, run_id: str, chunk_id: str) -> Chunk | None: ...

    def chunk_commit_op(self, chunk: Chunk, owner: str, state: ChunkState, now: datetime, release: bool) -> Op: ...

    def record_failure(self, merchant_id: str, run_id: str, chunk_id: str, owner: str, error: str,
                       now: datetime) -> None: ...

    def chunks_of(self, merchant_id: str, run_id: str) -> list[Chunk]: ...

    def upsert_run_op(self, run: Run, added: int, chunks: int) -> Op: ...

    def delivery_marker_op(self, merchant_id: str, run_id: str, customer_id: str) -> Op: ...

    def join_tally(self, ops: Sequence[Op], chunk: Chunk, tallied: frozenset[str]) -> None:
        """Record `tallied` in the chunk's update among `ops`, on the condition that the stored set is the chunk's."""

    def tally_op(self, chunk: Chunk, tallied: frozenset[str]) -> Op:
        """The chunk's tallied set alone (tag `tally:<chunk>`), on the same condition."""


class QueuePort(Protocol):
    """The two dispatch queues, one send per queue (SendMessageBatch, 10 a request; raises if any message was not
    accepted)."""

    def send_plans(self, messages: Sequence[PlanMessage]) -> None: ...

    def send_chunks(self, messages: Sequence[ChunkMessage]) -> None: ...


class CustomerSource(Protocol):
    def get_rows(self, merchant_id: str, customer_ids: Iterable[str]) -> dict[str, CustomerRow]: ...


class CouponPort(Protocol):
    def items_per_recipient(self, merchant_id: str, campaign: CampaignView) -> int:
        """Transaction items one recipient's coupons take (instances plus per-customer counters)."""

    def fixed_items(self, campaign: CampaignView) -> int:
        """Transaction items per chunk independent of its size (stock counters)."""

    def issue_ops(self, merchant_id: str, campaign: CampaignView, run_id: str, customer_ids: Sequence[str],
                  direct: bool, now: datetime) -> tuple[list[Op], dict[str, tuple[str, ...]]]:
        """The writes issuing each customer's coupons (tags `coupon:<customer>` / `stock:<coupon>`) and the
        instance ids per customer; raises model.IssueFailed for a campaign-wide refusal (template gone)."""

    def remaining_stock(self, merchant_id: str, campaign: CampaignView) -> int:
        """How many more recipients the scarcest coupon can serve."""


class Delivery(Protocol):
    customer_id: str


class ChannelPort(Protocol):
    """What dispatch needs from a channel adapter: a batch send with per-recipient outcomes."""

    idempotent: bool  # a resend with the same delivery key cannot reach the customer twice

    def send(self, merchant_id: str, campaign: CampaignView, run_id: str, recipients: Sequence[Recipient],
             instances: dict[str, tuple[str, ...]], now: datetime) -> Mapping[str, str | Later | None]:
        """customer → None (succeeded), a failure reason, or Later (nothing sent: hand it over again then)."""


@runtime_checkable
class Preflight(Protocol):
    """A channel port that can refuse recipients before the delivery transaction (nothing issued or counted)."""

    def preflight(self, merchant_id: str, campaign: CampaignView, run_id: str, recipients: Sequence[Recipient]
                  ) -> dict[str, str]:
        """customer → why it cannot be sent; everyone not named may be sent."""


class ReachSink(Protocol):
    """Where reaches go for attribution (reports' reach log)."""

    def record_reaches(self, merchant_id: str, reaches: Iterable[Reach], now: datetime | None = None) -> None:
        """Idempotent: recording the same reaches again changes nothing."""

    def reach_update(self, merchant_id: str, reach: Reach, now: datetime) -> tuple[str, str, str, list[Any]]:
        """(table, pk, sk, update actions) recording `reach` inside another update of that item, if one is sent."""


class WinnerPort(Protocol):
    """The decided winner of a campaign's A/B treatments, from its report (adapter: reports.switch.WinnerCheck):
    {"treatment", "metric", "reason", ...}, or None while the verdict is not decided."""

    def winner(self, merchant_id: str, campaign_id: str) -> dict[str, Any] | None: ...


class DeliveryLog(Protocol):
    """Reports' counters and recipient index of settled deliveries (reports.delivery_log.DeliveryLog).

    Its writes ride in the transaction that records the chunk's tallied set (dispatch.tally), so every final
    ledger entry is counted and indexed exactly once whatever the crashes, redeliveries and races.
    """

    max_items: int  # transaction items one call may return, at most

    def planned_ops(self, run: Run, chunks: Sequence[Chunk], now: datetime) -> list[Op]:
        """New chunks of `run`: their recipients are targeted; `chunk.tallied` entries are settled already."""

    def settled_ops(self, run: Run, chunk: Chunk, settled: Mapping[str, Entry], now: datetime) -> list[Op]:
        """Entries of `chunk` that became final (`model.FINAL`) since its last tally."""
