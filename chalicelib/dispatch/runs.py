"""Run progress, computed exactly from the run's chunks and their ledgers, and the runs read service."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from chalicelib.core.errors import NotFound
from chalicelib.core.reasons import public_counts
from chalicelib.dispatch.model import MAX_RECEIVES, Chunk, ChunkState, Outcome, Run, RunStatus
from chalicelib.dispatch.ports import RunRepo

# Failures decided before anything reached a channel (not "handed over").
NOT_HANDED = frozenset({"out_of_stock", "coupon_not_found", "coupon_expired", "dead_letter"})


@dataclass
class Progress:
    targeted: int = 0
    held_out: int = 0
    suppressed: dict[str, int] = field(default_factory=dict)
    handed_over: int = 0
    succeeded: int = 0
    failed: int = 0
    failed_reasons: dict[str, int] = field(default_factory=dict)
    cancelled: int = 0
    pending: int = 0
    deferred: int = 0  # of pending: quiet hours or a channel's back-off, sent at `deferred_until` or later
    deferred_until: str | None = None


def is_dead(chunk: Chunk) -> bool:
    """The chunk's message went to the DLQ: every receive failed and nobody holds it."""
    return chunk.state not in (ChunkState.DONE, ChunkState.CANCELLED) and chunk.receives >= MAX_RECEIVES \
        and chunk.owner is None


def progress(chunks: Iterable[Chunk]) -> Progress:
    """Targeted, held out, suppressed by reason, handed over, succeeded, failed by reason, cancelled, pending."""
    out = Progress()
    suppressed: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    for chunk in chunks:
        dead = is_dead(chunk)
        for r in chunk.recipients:
            out.targeted += 1
            entry = chunk.ledger.get(r.customer_id)
            if entry is None or entry.outcome in (Outcome.HANDING, Outcome.DEFERRED, Outcome.RETRY):
                if dead:  # the chunk's last error stays in the store and our logs, never in a response
                    failed["dead_letter"] += 1
                else:
                    out.pending += 1
                    out.handed_over += entry is not None and entry.outcome is Outcome.HANDING
                    if entry is not None and entry.outcome is not Outcome.HANDING:
                        out.deferred += 1
                        if entry.reason and (out.deferred_until is None or entry.reason < out.deferred_until):
                            out.deferred_until = entry.reason
            elif entry.outcome is Outcome.HELD_OUT:
                out.held_out += 1
            elif entry.outcome is Outcome.SUPPRESSED:
                suppressed[entry.reason or "unknown"] += 1
            elif entry.outcome is Outcome.SUCCEEDED:
                out.succeeded += 1
                out.handed_over += 1
            elif entry.outcome is Outcome.FAILED:
                failed[entry.reason or "unknown"] += 1
                out.handed_over += (entry.reason or "") not in NOT_HANDED
            else:
                out.cancelled += 1
    out.suppressed = public_counts("suppressed", dict(suppressed))
    out.failed_reasons = public_counts("failed", dict(failed))
    out.failed = sum(failed.values())
    return out


class RunsService:
    """Read side of runs: one run with live progress, a campaign's runs newest first."""

    def __init__(self, runs: RunRepo) -> None:
        self._runs = runs

    def get(self, merchant_id: str, run_id: str) -> tuple[Run, Progress]:
        run = self._runs.get_run(merchant_id, run_id)
        if run is None:
            raise NotFound(f"no run {run_id}", field="path.run_id")
        return run, self._progress(run)

    def of_campaign(self, merchant_id: str, campaign_id: str, limit: int, start_key: dict[str, Any] | None
                    ) -> tuple[list[tuple[Run, Progress]], dict[str, Any] | None]:
        runs, last = self._runs.list_runs(merchant_id, campaign_id, limit, start_key)
        return [(r, self._progress(r)) for r in runs], last

    def _progress(self, run: Run) -> Progress:
        out = progress(self._runs.chunks_of(run.merchant_id, run.run_id))
        if run.status is RunStatus.CANCELLED:  # what was still waiting will never be sent
            out.cancelled, out.pending, out.deferred, out.deferred_until = out.cancelled + out.pending, 0, 0, None
        return out
