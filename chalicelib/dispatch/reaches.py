"""Reaches: what dispatch records of a chunk for attribution (reports reads them), rebuilt from its ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.core.clock import parse_iso
from chalicelib.dispatch.model import Chunk, Outcome, Run

DEFAULT_WINDOW_DAYS = 7
MAX_WINDOW_DAYS = 90


@dataclass(frozen=True)
class Reach:
    """A successful reach (or a holdout decision) of one customer by one run: what attribution looks back at.

    `window_days` is the campaign's attribution window (1-90); `coupon_instance_ids` the coupons delivered.
    """

    customer_id: str
    campaign_id: str
    run_id: str
    at: datetime
    held_out: bool = False
    coupon_instance_ids: tuple[str, ...] = ()
    window_days: int = 7

    @property
    def window_end(self) -> datetime:
        return self.at + timedelta(days=self.window_days)

    def covers(self, instant: datetime) -> bool:
        """True when `instant` falls in [at, at + window] (both edges included)."""
        return self.at <= instant <= self.window_end


def window_days(snapshot: dict[str, Any]) -> int:
    """The campaign's attribution window (campaigns validate 1-90; older bodies may lack it)."""
    days = int(snapshot.get("attribution_window_days") or DEFAULT_WINDOW_DAYS)
    return min(max(days, 1), MAX_WINDOW_DAYS)


def reaches_of(chunk: Chunk, run: Run) -> list[Reach]:
    """Every final reach (succeeded) and holdout decision of the chunk not already written with its entry.

    Everything comes from the stored ledger entry (its `at`, its coupon instances), never from the clock, so
    recording the chunk again after a crash or a redelivery yields the very same reaches: the reach log's
    set semantics then make the second recording a no-op.
    """
    window = window_days(run.snapshot)
    out = []
    for customer_id, entry in sorted(chunk.ledger.items()):
        if entry.outcome not in (Outcome.SUCCEEDED, Outcome.HELD_OUT) or entry.reach_written:
            continue  # not a reach, or written in the transaction that recorded the entry
        at = parse_iso(entry.at) if entry.at else run.occurrence
        out.append(Reach(customer_id, run.campaign_id, run.run_id, at, entry.outcome is Outcome.HELD_OUT,
                         entry.instances, window))
    return out
