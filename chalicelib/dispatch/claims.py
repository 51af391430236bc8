"""Claiming due items, the one loop the tick's parts share: what another tick claimed first is left out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from chalicelib.core.ports import Repo
from chalicelib.core.tx import TX_MAX_ITEMS, TxCancelled
from chalicelib.dispatch.messages import chunk_message_of
from chalicelib.dispatch.model import DueItem
from chalicelib.dispatch.ports import Committer, DueRepo, Op, QueuePort, RunRepo


class TickPart:
    """What the tick and each of its parts (occurrences, touches) work with: the due index, runs, transactions,
    the queues, the campaign definitions and the merchants' zones."""

    def __init__(self, due: DueRepo, runs: RunRepo, commit: Committer, queues: QueuePort, campaigns: Repo,
                 timezone_of: Callable[[str], str]) -> None:
        self._due = due
        self._runs = runs
        self._commit = commit
        self._queues = queues
        self._campaigns = campaigns
        self._tz = timezone_of


def claim(due: DueRepo, commit: Committer, items: list[DueItem], now: datetime,
          build: Callable[[list[DueItem]], list[Op]] | None = None) -> list[DueItem]:
    """Commit the claims of `items` (with what `build` adds to their transaction); returns the items claimed.

    A claim whose condition failed belongs to another tick: the transaction is sent again without it. A
    cancellation naming no claim is not ours to settle and goes to the caller.
    """
    def claims(group: list[DueItem]) -> list[Op]:
        return [due.claim_op(i, now) for i in group]

    while items:
        try:
            commit((build or claims)(items))
            return items
        except TxCancelled as exc:
            lost = set(exc.tagged("claim:"))
            if not lost:
                raise
            items = [i for i in items if i.sk not in lost]
    return []


def enqueue_chunks(due: DueRepo, commit: Committer, queues: QueuePort, items: list[DueItem], now: datetime) -> int:
    """Claim, enqueue the chunks the items name (each once), complete: a crash in between leaves a claim whose
    lease expires and is redone. Returns the items done."""
    done = 0
    for start in range(0, len(items), TX_MAX_ITEMS):
        group = claim(due, commit, items[start:start + TX_MAX_ITEMS], now)
        if not group:
            continue
        queues.send_chunks(list(dict.fromkeys(chunk_message_of(i) for i in group)))
        due.mark_done(group, now)
        done += len(group)
    return done
