"""Who a campaign targets: its target resolved by the audience engine, per plan segment or per touched customer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.audiences.evaluate import AudienceEngine, MerchantContext, facts_of
from chalicelib.audiences.model import Member, Selector
from chalicelib.core.errors import Invalid, NotFound
from chalicelib.customers.convert import profile_from_doc
from chalicelib.customers.rows import CustomerRow
from chalicelib.dispatch.model import SEGMENTS, Recipient, holdout

log = logging.getLogger(__name__)


def cursor_of(shard: int, after: str) -> str:
    """A plan segment's position: the shard it is in and the last customer examined there."""
    return f"{shard:03d}:{after}"


def parse_cursor(cursor: str) -> tuple[int, str]:
    return int(cursor[:3]), cursor[4:]


class TargetResolver:
    """Campaign targets through the AudienceEngine, so a send reaches exactly whom an estimate counts.

    Plan segment `s` covers the customer shards s, s + segments, ... (one shard when the store has as many
    shards as there are segments); its cursor says how far it got, so it resumes without re-reading.
    """

    def __init__(self, engine: AudienceEngine, segments: int = SEGMENTS,
                 context_of: Callable[[str], MerchantContext] | None = None) -> None:
        """`context_of`: the merchant's zone and RFM settings, e.g. from settings cached per worker (the
        engine's own reads them per call)."""
        self._engine = engine
        self._segments = segments
        self._context_of = context_of or engine.context_of

    def selector(self, merchant_id: str, target: Mapping[str, Any]) -> Selector | None:
        """The target's selector; None when it selects nobody (its audience was deleted, or it is malformed)."""
        try:
            return self._engine.selector_for_target(merchant_id, target)
        except (NotFound, Invalid) as exc:
            log.warning("campaign target selects nobody: %s", exc, extra={"merchant_id": merchant_id})
            return None

    def prepare(self, merchant_id: str, selector: Selector, as_of: datetime) -> None:
        """What every segment shares (the RFM median at as_of), computed once and cached."""
        if selector.rfm:
            ctx = self._context_of(merchant_id)
            if ctx.rfm.monetary_threshold_fen is None:
                self._engine.median(merchant_id, as_of, ctx)

    def pages(self, merchant_id: str, selector: Selector, segment: int, cursor: str | None, as_of: datetime,
              segments: int | None = None) -> Iterator[tuple[list[Member], str]]:
        """Member pages of one plan segment (of `segments`, by default one per shard) after `cursor`, each with
        the cursor just past it."""
        start, after = parse_cursor(cursor) if cursor else (segment, None)
        ctx = self._context_of(merchant_id)
        for shard in range(segment, self._engine.shards, segments or self._segments):
            if shard < start:
                continue
            resume = after if shard == start else None
            for members, last in self._engine.shard_pages(merchant_id, selector, shard, as_of, resume, ctx):
                yield members, cursor_of(shard, last)

    def members_among(self, merchant_id: str, selector: Selector, as_of: datetime,
                      rows: Mapping[str, CustomerRow]) -> set[str]:
        """Which of these customers (read for triggered touches) the target holds at as_of."""
        if selector.dynamic:
            ctx = self._context_of(merchant_id)
            test = self._engine.predicate(merchant_id, selector, as_of, ctx)
            return {cid for cid, row in rows.items() if test(facts_of(row, ctx.tz, as_of))}
        wanted, found = set(rows), set()
        for shard in sorted({self._engine.shard_of(c) for c in wanted}):
            for ids in self._engine.ids_of_shard(merchant_id, selector, shard):
                found.update(wanted.intersection(ids))
        return found


def birthday_test(delay_days: int, tz: str, as_of: datetime) -> Callable[[date | None], bool]:
    """Triggered 'birthday' campaigns: the birthday was `delay_days` ago (29 Feb falls on 28 Feb otherwise)."""
    day = as_of.astimezone(ZoneInfo(tz)).date() - timedelta(days=delay_days)

    def test(born: date | None) -> bool:
        if born is None:
            return False
        month, dom = born.month, born.day
        if (month, dom) == (2, 29) and not _leap(day.year):
            dom = 28
        return (month, dom) == (day.month, day.day)
    return test


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def recipient_of_member(member: Member, campaign_id: str, holdout_percent: float) -> Recipient:
    """What a chunk keeps of an audience member: contact data, consent as of the evaluation, holdout."""
    return Recipient(member.customer_id, member.nickname, member.phone, member.email, member.staff_owner,
                     member.channels, member.risk_flagged, holdout(campaign_id, member.customer_id, holdout_percent))


def recipient_of(row: CustomerRow, campaign_id: str, holdout_percent: float) -> Recipient:
    """What a chunk keeps of a stored customer (a triggered touch read at dispatch): the same fields."""
    profile = row.profile or {}
    unsubscribed: Iterable[str] = (row.activity or {}).get("unsubscribed") or ()
    consent = profile_from_doc(row.customer_id, row.profile).consent.granted() - frozenset(unsubscribed)
    return Recipient(row.customer_id, profile.get("nickname"), profile.get("phone"), profile.get("email"),
                     profile.get("staff_owner"), consent, bool(profile.get("risk_flag")),
                     holdout(campaign_id, row.customer_id, holdout_percent))
