"""Member paging for the API: resumable positions (shard, last customer id, as_of, RFM median) over an audience."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from fractions import Fraction

from chalicelib.audiences.evaluate import AudienceEngine, facts_of, member_of, second
from chalicelib.audiences.model import Member, Selector

SCAN_BUDGET = 5_000  # customers examined per request of a dynamic audience: a sparse audience gives short pages


@dataclass(frozen=True)
class Position:
    """Where the next page starts; as_of and the median are fixed by the first page so pages agree."""

    shard: int
    after: str | None
    as_of: datetime
    median: Fraction | None = None
    median_known: bool = False


def start(as_of: datetime) -> Position:
    return Position(0, None, second(as_of))


def page(engine: AudienceEngine, merchant_id: str, selector: Selector, pos: Position, limit: int,
         profiles: bool = False, budget: int = SCAN_BUDGET) -> tuple[list[Member], Position | None]:
    """Up to `limit` members from `pos` on, and the position after them (None at the end)."""
    if not selector.dynamic:
        return _listed(engine, merchant_id, selector, pos, limit, profiles)
    ctx = engine.context_of(merchant_id)
    if selector.rfm and ctx.rfm.monetary_threshold_fen is None and not pos.median_known:
        pos = replace(pos, median=engine.median(merchant_id, pos.as_of, ctx), median_known=True)
    pred = engine.predicate(merchant_id, selector, pos.as_of, ctx, pos.median, pos.median_known)
    out: list[Member] = []
    scanned = 0
    for shard in range(pos.shard, engine.shards):
        after = pos.after if shard == pos.shard else None
        for rows in engine.resume(merchant_id, shard, after):
            for row in rows:
                scanned += 1
                f = facts_of(row, ctx.tz, pos.as_of)
                if pred(f):
                    out.append(member_of(row, f))
                if len(out) >= limit or scanned >= budget:
                    return out, replace(pos, shard=shard, after=row.customer_id)
    return out, None


def _listed(engine: AudienceEngine, merchant_id: str, selector: Selector, pos: Position, limit: int,
            profiles: bool) -> tuple[list[Member], Position | None]:
    ids: list[str] = []
    nxt: Position | None = None
    for shard in range(pos.shard, engine.shards):
        after = pos.after if shard == pos.shard else None
        for chunk in engine.ids_of_shard(merchant_id, selector, shard, after):
            ids.extend(chunk[:limit - len(ids)])
            if len(ids) >= limit:
                nxt = replace(pos, shard=shard, after=ids[-1])
                break
        if nxt is not None:
            break
    members = engine.with_profiles(merchant_id, ids, pos.as_of) if profiles and ids else [Member(c) for c in ids]
    return members, nxt
