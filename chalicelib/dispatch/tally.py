"""Settled deliveries handed to reports' delivery log exactly once: the chunk item remembers which it tallied.

A ledger entry is counted when it is final (`model.FINAL`). The chunk keeps the set of recipients already
tallied (`Chunk.tallied`, a bitmap over its recipients, `tally_bits`); a tally writes the log's counters and
index items in one transaction with the chunk's new bitmap, on the condition that the stored bitmap is still the
one the tally was computed from. So an entry is counted once whatever the crashes, redeliveries and races.
A tally rides in the chunk's release commit when the transaction has room (the usual case: plans leave room in a
chunk's last group); otherwise it is its own small transaction right after.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from chalicelib.core.tx import TX_MAX_ITEMS, TxCancelled
from chalicelib.dispatch.model import FINAL, Chunk, Entry, Recipient, Run
from chalicelib.dispatch.ports import Committer, DeliveryLog, Op, RunRepo

TALLY_ROUNDS = 3


def tally_bits(recipients: Sequence[Recipient], tallied: Iterable[str]) -> str:
    """The tallied recipients as a bitmap over the chunk's recipient order, base64 ('' when none)."""
    wanted = set(tallied)
    if not wanted:
        return ""
    bits = bytearray((len(recipients) + 7) // 8)
    for i, r in enumerate(recipients):
        if r.customer_id in wanted:
            bits[i // 8] |= 1 << (i % 8)
    return base64.b64encode(bytes(bits)).decode()


def tallied_of(recipients: Sequence[Recipient], bits: str | None) -> frozenset[str]:
    """Inverse of tally_bits."""
    if not bits:
        return frozenset()
    raw = base64.b64decode(bits)
    return frozenset(r.customer_id for i, r in enumerate(recipients)
                     if i // 8 < len(raw) and raw[i // 8] & (1 << (i % 8)))


def unsettled(chunk: Chunk) -> dict[str, Entry]:
    """Final entries not tallied yet."""
    return {c: e for c, e in chunk.ledger.items() if e.outcome in FINAL and c not in chunk.tallied}


class Tally:
    """Adds the delivery log's writes to a chunk's release commit, or commits them alone."""

    def __init__(self, log: DeliveryLog | None, runs: RunRepo, commit: Committer) -> None:
        self._log = log
        self._runs = runs
        self._commit = commit

    @property
    def items(self) -> int:
        """Transaction items a tally may add (plans leave this much room in a chunk's last group)."""
        return self._log.max_items if self._log is not None else 0

    def commit_release(self, chunk: Chunk, run: Run, ops: list[Op], now: datetime) -> None:
        """Commit `ops` (ending with the chunk's release commit) with the tally of what settled, if it fits."""
        fresh = unsettled(chunk) if self._log is not None else {}
        if not fresh:
            self._commit(ops)
            return
        extra = self._log.settled_ops(run, chunk, fresh, now) if self._log is not None else []
        if len(ops) + len(extra) > TX_MAX_ITEMS:
            self._commit(ops)
            self.settle(chunk, run, now)
            return
        done = chunk.tallied | frozenset(fresh)
        self._runs.join_tally(ops, chunk, done)
        self._commit([*ops, *extra])
        chunk.tallied = done

    def settle(self, chunk: Chunk, run: Run, now: datetime) -> None:
        """Tally a chunk outside any lease (after a full release commit, or a settled chunk found again)."""
        if self._log is None:
            return
        for _ in range(TALLY_ROUNDS):
            fresh = unsettled(chunk)
            if not fresh:
                return
            done = chunk.tallied | frozenset(fresh)
            try:
                self._commit([self._runs.tally_op(chunk, done), *self._log.settled_ops(run, chunk, fresh, now)])
            except TxCancelled as exc:
                if not any(t.startswith("tally:") for t in exc.failed):
                    raise
                current = self._runs.get_chunk(chunk.merchant_id, chunk.run_id, chunk.chunk_id)
                if current is None:
                    return
                chunk.ledger, chunk.tallied = current.ledger, current.tallied
                continue
            chunk.tallied = done
            return
        raise RuntimeError(f"the tally of chunk {chunk.chunk_id} kept changing underneath")

    def planned_ops(self, run: Run, chunks: Sequence[Chunk], now: datetime) -> list[Op]:
        """Reports' writes for chunks being created (planned recipients, entries settled at plan time)."""
        if self._log is None or not chunks:
            return []
        for chunk in chunks:
            chunk.tallied = frozenset(unsettled(chunk))
        return self._log.planned_ops(run, chunks, now)


def settled_entries(chunks: Iterable[Chunk]) -> Mapping[str, Entry]:
    """Every final entry of `chunks` (for tests and the bench)."""
    return {c: e for chunk in chunks for c, e in chunk.ledger.items() if e.outcome in FINAL}
