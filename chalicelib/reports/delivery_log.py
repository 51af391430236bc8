"""Dispatch's DeliveryLog port: settled deliveries counted per campaign (totals and run day) and indexed by status.

Dispatch hands over each chunk's newly final entries in the transaction that records them as tallied
(dispatch.tally), so the counters and index rows written here are exactly once. A chunk's rows go to one index
item per status (split by bytes), keyed by the run's start, the chunk and the tally's position in the chunk.
"""

from __future__ import annotations

import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from chalicelib.core.clock import parse_iso
from chalicelib.core.records import Record
from chalicelib.core.tx import TxOp
from chalicelib.coupons import terms as coupon_terms
from chalicelib.coupons.issue import instance_id_for
from chalicelib.coupons.model import CouponTerms
from chalicelib.dispatch.model import Chunk, Entry, Run, delivery_key
from chalicelib.dispatch.snapshot import CouponGrant, view
from chalicelib.reports.delivery_counts import TARGETED, Settled, deltas, encode_rows, expiry_key, status_of
from chalicelib.reports.tally_store import ROWS_MAX_BYTES, SHARDS, counter_ops, index_op

TemplateOf = Callable[[str, str], Record | None]


def run_started(run: Run) -> datetime:
    """When the run started (a run's day in reports is its start's local day)."""
    return parse_iso(run.started_at) if run.started_at else run.occurrence


def index_sk(run: Run, chunk_id: str, tally: int, part: int = 0) -> str:
    return f"{run.started_at or run.occurrence.isoformat()}#{run.run_id}#{chunk_id}#{tally:03d}" + (
        f"#{part}" if part else "")


def derived_ids(merchant_id: str, run_id: str, customer_id: str, grants: Sequence[CouponGrant]) -> tuple[str, ...]:
    """The instance ids dispatch issues to one delivery (coupons.issue.instance_id_for over the grants)."""
    key = delivery_key(run_id, customer_id)
    return tuple(instance_id_for(merchant_id, g.coupon_id, key, i) for g in grants for i in range(g.quantity))


class DeliveryLog:
    """Counters and index rows of settled deliveries, as transaction ops for dispatch to commit."""

    max_items = 2 + 5 + 1  # totals and day items, an index item per status, one more when rows are split

    def __init__(self, timezone_of: Callable[[str], str], template_of: TemplateOf) -> None:
        self._tz = timezone_of
        self._template = template_of

    def planned_ops(self, run: Run, chunks: Sequence[Chunk], now: datetime) -> list[TxOp]:
        targeted = sum(len(c.recipients) for c in chunks)
        settled = {c.chunk_id: {cid: c.ledger[cid] for cid in c.tallied if cid in c.ledger} for c in chunks}
        ops = self._ops(run, chunks[0].chunk_id, [(c, settled[c.chunk_id], 0) for c in chunks],
                        Counter({TARGETED: targeted}))
        return ops

    def settled_ops(self, run: Run, chunk: Chunk, settled: Mapping[str, Entry], now: datetime) -> list[TxOp]:
        return self._ops(run, chunk.chunk_id, [(chunk, settled, len(chunk.tallied))], Counter())

    def _ops(self, run: Run, anchor: str, parts: list[tuple[Chunk, Mapping[str, Entry], int]], base: Counter[str]
             ) -> list[TxOp]:
        merchant_id = run.merchant_id
        tz = self._tz(merchant_id)
        campaign = view(run.campaign_id, "running", run.snapshot)
        direct = campaign.channel == "wallet"
        total = Counter(base)
        ops: list[TxOp] = []
        for chunk, entries, tally in parts:
            rows = [self._row(run, cid, e, campaign.coupons) for cid, e in sorted(entries.items())]
            total += deltas(rows, direct)
            total += self._expiries(merchant_id, rows, campaign.coupons, direct, tz)
            ops += self._index(run, chunk.chunk_id, tally, rows)
        day = run_started(run).astimezone(ZoneInfo(tz)).date().isoformat()
        by_day = {day: {k: v for k, v in total.items() if not k.startswith("x_")}}
        shard = zlib.crc32(anchor.encode()) % SHARDS
        return [*counter_ops(merchant_id, run.campaign_id, shard, by_day, total, f"report:{anchor}"), *ops]

    @staticmethod
    def _row(run: Run, customer_id: str, entry: Entry, grants: Sequence[CouponGrant]) -> Settled:
        status, reason = status_of(entry.outcome.value, entry.reason)
        at = int(parse_iso(entry.at).timestamp()) if entry.at else None
        instances = tuple(entry.instances)
        derived = bool(instances) and instances == derived_ids(run.merchant_id, run.run_id, customer_id, grants)
        return Settled(customer_id, status, reason, at, len(instances), derived, () if derived else instances)

    def _expiries(self, merchant_id: str, rows: Sequence[Settled], grants: Sequence[CouponGrant], direct: bool,
                  tz: str) -> Counter[str]:
        """Issued coupons by the local day of their deadline (the template's terms at issue, cached a minute)."""
        out: Counter[str] = Counter()
        issued = [r for r in rows if r.coupons and r.derived and r.at is not None]
        for grant in grants:
            record = self._template(merchant_id, grant.coupon_id)
            if record is None or not issued:
                continue
            terms = CouponTerms.from_data(record.data)
            for r in issued:
                deadline = deadline_of(terms, datetime.fromtimestamp(r.at or 0, UTC), tz, direct)
                if deadline is not None:
                    out[expiry_key(deadline)] += grant.quantity
        return out

    @staticmethod
    def _index(run: Run, chunk_id: str, tally: int, rows: Sequence[Settled]) -> list[TxOp]:
        by_status: dict[str, list[Settled]] = defaultdict(list)
        for r in rows:
            by_status[r.status.value].append(r)
        ops = []
        for status, group in sorted(by_status.items()):
            for part, text in enumerate(_split(group)):
                ops.append(index_op(run.merchant_id, run.campaign_id, status, index_sk(run, chunk_id, tally, part),
                                    run.run_id, text, f"rx:{chunk_id}:{status}:{part}"))
        return ops


def deadline_of(terms: CouponTerms, issued_at: datetime, tz: str, direct: bool) -> date | None:
    """The local day at whose 00:00 an instance issued at `issued_at` expires (None: it does not)."""
    times = coupon_terms.issue_times(terms, issued_at, tz, direct=direct)
    end = times.valid_until if direct else times.claim_deadline
    return None if end is None else coupon_terms.local_date(end, tz)


def _split(rows: Sequence[Settled]) -> list[str]:
    """Rows encoded in as few texts as fit one index item each."""
    text = encode_rows(rows)
    if len(text.encode()) <= ROWS_MAX_BYTES or len(rows) == 1:
        return [text]
    half = len(rows) // 2
    return [*_split(rows[:half]), *_split(rows[half:])]

