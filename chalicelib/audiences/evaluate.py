"""Audience evaluation at scale: Query pages of one merchant's customer shards into pages of members.

Cost model (AWS requests): a dynamic audience (built-in, rule, staff friends) reads every customer item of
the merchant once — one Query request per 1 MB page per shard, so pages + at most one partial page per shard.
RFM audiences also need the merchant's median 180-day AOV at the same as_of: a count gets it in the same pass;
member iteration reads it from the median cache (one GetItem) or, cold, computes it with one extra full pass
and caches it, so call `prepare()` once before fanning segments out. Frozen and list audiences read only
their stored id chunks (about 30,000 ids per item), plus BatchGetItem (50 customers per request) when profile
fields are wanted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any, Protocol

from chalicelib.audiences import tally
from chalicelib.audiences.builtin import BUILTIN_IDS, BuiltinEvaluator, RfmSettings
from chalicelib.audiences.model import Member, Selector, SelectorKind
from chalicelib.audiences.rules import compile_rule, parse_rule
from chalicelib.core.errors import Invalid, NotFound
from chalicelib.core.ports import Repo
from chalicelib.core.records import Record
from chalicelib.customers.convert import profile_from_doc
from chalicelib.customers.metrics import facts_as_of
from chalicelib.customers.model import CustomerActivity, CustomerFacts, activity_from_doc
from chalicelib.customers.rows import CustomerRow
from chalicelib.tenancy.model import MerchantSettings

Predicate = Callable[[CustomerFacts], bool]
LOOKUP_BATCH = 500  # ids per get_rows call (BatchGetItem: 100 keys = 50 customers per request)
_EMPTY = CustomerActivity()


class CustomerSource(Protocol):
    shards: int

    def iter_shard(self, merchant_id: str, shard: int, page_size: int | None = None
                     ) -> Iterator[list[CustomerRow]]: ...

    def get_rows(self, merchant_id: str, customer_ids: Iterable[str]) -> dict[str, CustomerRow]: ...


class MemberIds(Protocol):
    def shard_of(self, customer_id: str) -> int: ...

    def iter_ids(self, merchant_id: str, audience_id: str, shard: int, after: str | None = None
                 ) -> Iterator[list[str]]: ...


class MedianStore(Protocol):
    def get(self, merchant_id: str, as_of: datetime) -> tuple[bool, Fraction | None]: ...

    def put(self, merchant_id: str, as_of: datetime, median: Fraction | None) -> None: ...


@dataclass(frozen=True)
class MerchantContext:
    """What evaluation needs of the merchant's settings."""

    tz: str
    rfm: RfmSettings


def merchant_context(settings: MerchantSettings) -> MerchantContext:
    """Evaluation context from the merchant's settings (zone and RFM thresholds)."""
    rfm = settings.rfm
    return MerchantContext(settings.timezone, RfmSettings(rfm.recent_days, rfm.frequency_threshold,
                                                          rfm.monetary_threshold_fen))


def facts_of(row: CustomerRow, tz: str, as_of: datetime) -> CustomerFacts:
    """The customer's facts at as_of from its stored documents."""
    activity = activity_from_doc(row.activity) if row.activity else _EMPTY
    return facts_as_of(profile_from_doc(row.customer_id, row.profile), activity, tz, as_of)


def member_of(row: CustomerRow, facts: CustomerFacts) -> Member:
    doc = row.profile or {}
    return Member(row.customer_id, doc.get("nickname") or None, doc.get("phone"), doc.get("email"),
                  facts.staff_owner, facts.reachable_channels, facts.risk_flagged, facts,
                  row.profile is not None or row.activity is not None)


def second(as_of: datetime) -> datetime:
    """Evaluations run at whole seconds (facts are second-precise; the median cache is keyed by the second)."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    return as_of.replace(microsecond=0)


class AudienceEngine:
    """Evaluates selectors for one merchant at one instant; every read is a Query of that merchant's keys."""

    def __init__(self, customers: CustomerSource, members: MemberIds, medians: MedianStore, audiences: Repo,
                 context_of: Callable[[str], MerchantContext],
                 resume: Callable[[str, int, str | None], Iterator[list[CustomerRow]]]) -> None:
        self._customers = customers
        self._members = members
        self._medians = medians
        self._audiences = audiences
        self.context_of = context_of
        self.resume = resume
        self.shards = customers.shards

    def shard_of(self, customer_id: str) -> int:
        """The customer shard holding this customer (segments of evaluation are shards)."""
        return self._members.shard_of(customer_id)

    # -- what to evaluate -------------------------------------------------------------------------------
    def selector_for(self, merchant_id: str, audience_id: str, field: str = "path.audience_id") -> Selector:
        """A built-in id or a stored audience of this merchant (404 otherwise, also for other tenants' ids)."""
        if audience_id in BUILTIN_IDS:
            return Selector(SelectorKind.BUILTIN, builtin_id=audience_id)
        record = self._audiences.get(merchant_id, audience_id)
        if record is None:
            raise NotFound(f"no audience {audience_id}", field=field)
        return self.selector_of(record)

    @staticmethod
    def selector_of(record: Record) -> Selector:
        """The selector of a stored audience definition."""
        if record.status == "custom":
            return Selector(SelectorKind.RULE, rule=parse_rule(record.data["rule"]), audience_id=record.id)
        return Selector(SelectorKind.STORED, audience_id=record.id)

    def selector_for_target(self, merchant_id: str, target: Mapping[str, Any]) -> Selector:
        """A campaign target body: audience, rule, staff_friends or customers."""
        kind = target.get("kind")
        if kind == "audience":
            return self.selector_for(merchant_id, str(target.get("audience_id") or ""), "target.audience_id")
        if kind == "rule":
            return Selector(SelectorKind.RULE, rule=parse_rule(target.get("rule"), "target.rule"))
        if kind == "staff_friends":
            return Selector(SelectorKind.STAFF, staff_ids=frozenset(str(s) for s in target.get("staff_ids") or ()))
        if kind == "customers":
            ids = tuple(dict.fromkeys(str(c) for c in target.get("customer_ids") or ()))
            return Selector(SelectorKind.IDS, customer_ids=ids)
        raise Invalid("target kind must be audience, rule, staff_friends or customers", field="target.kind")

    # -- predicates -------------------------------------------------------------------------------------
    def median(self, merchant_id: str, as_of: datetime, ctx: MerchantContext | None = None) -> Fraction | None:
        """The RFM median at as_of: cached, else one full pass (then cached for the other segments)."""
        as_of = second(as_of)
        found, value = self._medians.get(merchant_id, as_of)
        if found:
            return value
        ctx = ctx or self.context_of(merchant_id)
        value = tally.median_aov(facts_of(row, ctx.tz, as_of) for row in self._rows(merchant_id, None))
        self._medians.put(merchant_id, as_of, value)
        return value

    def prepare(self, merchant_id: str, selector: Selector, as_of: datetime) -> None:
        """Before evaluating segments in parallel: compute what they share (the RFM median), once."""
        ctx = self.context_of(merchant_id)
        if selector.rfm and ctx.rfm.monetary_threshold_fen is None:
            self.median(merchant_id, as_of, ctx)

    def predicate(self, merchant_id: str, selector: Selector, as_of: datetime, ctx: MerchantContext,
                  median: Fraction | None = None, median_known: bool = False) -> Predicate:
        """The membership test of a dynamic selector at as_of, bound once (not per customer)."""
        if selector.kind is SelectorKind.RULE and selector.rule is not None:
            return compile_rule(selector.rule, as_of, ctx.tz)
        if selector.kind is SelectorKind.STAFF:
            staff = selector.staff_ids
            return lambda f: f.staff_owner in staff
        if selector.kind is SelectorKind.BUILTIN and selector.builtin_id:
            if selector.rfm and ctx.rfm.monetary_threshold_fen is None and not median_known:
                median = self.median(merchant_id, as_of, ctx)
            return BuiltinEvaluator(as_of, ctx.rfm, median).predicate(selector.builtin_id)
        raise ValueError(f"{selector.kind} is not a dynamic selector")

    # -- members ----------------------------------------------------------------------------------------
    def _rows(self, merchant_id: str, shard: int | None) -> Iterator[CustomerRow]:
        for s in range(self.shards) if shard is None else (shard,):
            for page in self._customers.iter_shard(merchant_id, s):
                yield from page

    def iter_members(self, merchant_id: str, selector: Selector, as_of: datetime, shard: int | None = None,
                     profiles: bool = True) -> Iterator[list[Member]]:
        """Pages of members (never the whole audience in memory); one shard when `shard` is given.

        Dynamic selectors yield members with profile fields and facts; stored and id selectors look
        profiles up only when `profiles` is true (else members carry just the id).
        """
        as_of = second(as_of)
        ctx = self.context_of(merchant_id)
        if not selector.dynamic:
            yield from self._listed(merchant_id, selector, as_of, shard, ctx if profiles else None)
            return
        pred = self.predicate(merchant_id, selector, as_of, ctx)
        tz = ctx.tz
        for s in range(self.shards) if shard is None else (shard,):
            for rows in self._customers.iter_shard(merchant_id, s):
                page = [member_of(row, f) for row in rows if pred(f := facts_of(row, tz, as_of))]
                if page:
                    yield page

    def _listed(self, merchant_id: str, selector: Selector, as_of: datetime, shard: int | None,
                ctx: MerchantContext | None) -> Iterator[list[Member]]:
        for s in range(self.shards) if shard is None else (shard,):
            for ids in self.ids_of_shard(merchant_id, selector, s):
                for start in range(0, len(ids), LOOKUP_BATCH):
                    part = ids[start:start + LOOKUP_BATCH]
                    yield self.with_profiles(merchant_id, part, as_of, ctx) if ctx else [Member(c) for c in part]

    def ids_of_shard(self, merchant_id: str, selector: Selector, shard: int, after: str | None = None
                      ) -> Iterator[list[str]]:
        if selector.kind is SelectorKind.STORED and selector.audience_id:
            yield from self._members.iter_ids(merchant_id, selector.audience_id, shard, after)
        elif selector.kind is SelectorKind.IDS:
            ids = sorted(c for c in selector.customer_ids
                         if self._members.shard_of(c) == shard and (after is None or c > after))
            if ids:
                yield ids

    def with_profiles(self, merchant_id: str, ids: list[str], as_of: datetime,
                      ctx: MerchantContext | None = None) -> list[Member]:
        """Members with profile fields and facts for listed ids (BatchGetItem); unknown ids have known=False."""
        ctx = ctx or self.context_of(merchant_id)
        rows = self._customers.get_rows(merchant_id, ids)
        out = []
        for cid in ids:
            row = rows.get(cid) or CustomerRow(cid, None, None)
            out.append(member_of(row, facts_of(row, ctx.tz, as_of)))
        return out

    def resolve_target_shard(self, merchant_id: str, target: Mapping[str, Any], shard: int,
                               as_of: datetime) -> Iterator[list[Member]]:
        """Pages of members (with profile fields) of one shard of a campaign target."""
        selector = self.selector_for_target(merchant_id, target)
        return self.iter_members(merchant_id, selector, as_of, shard=shard, profiles=True)

    def shard_pages(self, merchant_id: str, selector: Selector, shard: int, as_of: datetime,
                      after: str | None = None, ctx: MerchantContext | None = None
                      ) -> Iterator[tuple[list[Member], str]]:
        """One shard's members (with profile fields) resumed after customer `after`, page by page.

        Each page comes with the last customer id it examined (members or not), so a caller that stops
        between pages resumes after it without examining those customers again (the plan worker's cursor).
        Dynamic selectors walk the shard in key order, listed ones in id order; `after` is in that order.
        A caller planning many segments may pass the merchant context it holds (one settings read fewer each).
        """
        as_of = second(as_of)
        ctx = ctx or self.context_of(merchant_id)
        if not selector.dynamic:
            for ids in self.ids_of_shard(merchant_id, selector, shard, after):
                for start in range(0, len(ids), LOOKUP_BATCH):
                    part = ids[start:start + LOOKUP_BATCH]
                    yield self.with_profiles(merchant_id, part, as_of, ctx), part[-1]
            return
        pred = self.predicate(merchant_id, selector, as_of, ctx)
        for rows in self.resume(merchant_id, shard, after):
            if rows:
                page = [member_of(row, f) for row in rows if pred(f := facts_of(row, ctx.tz, as_of))]
                yield page, rows[-1].customer_id

    def count_target(self, merchant_id: str, target: Mapping[str, Any], as_of: datetime) -> int:
        """Members of a campaign target now (one pass); with model.check_audience_size to refuse a send over 300,000."""
        return self.count(merchant_id, self.selector_for_target(merchant_id, target), as_of)

    # -- counting ---------------------------------------------------------------------------------------
    def count(self, merchant_id: str, selector: Selector, as_of: datetime) -> int:
        return self.counts(merchant_id, {"x": selector}, as_of)[0]["x"]

    def counts(self, merchant_id: str, selectors: Mapping[str, Selector], as_of: datetime, sample: int = 0
               ) -> tuple[dict[str, int], dict[str, list[str]]]:
        """Counts (and up to `sample` member ids) of many selectors, dynamic ones in ONE pass over the customers.

        RFM counts need no second pass: the pass keeps AOVs per (recency, frequency) cell and splits each
        cell at the median afterwards (the median is then cached for member iteration at this as_of).
        """
        as_of = second(as_of)
        ctx = self.context_of(merchant_id)
        dynamic = {k: s for k, s in selectors.items() if s.dynamic}
        counts: dict[str, int] = {}
        samples: dict[str, list[str]] = {}
        if dynamic:
            split = {k: s.builtin_id or "" for k, s in dynamic.items()
                     if s.rfm and ctx.rfm.monetary_threshold_fen is None}
            preds = {k: self.predicate(merchant_id, s, as_of, ctx) for k, s in dynamic.items() if k not in split}
            cells = tally.RfmCells(as_of, ctx.rfm) if split else None
            found = tally.count_pass(self._rows(merchant_id, None), lambda r: facts_of(r, ctx.tz, as_of), preds,
                                     cells, sample)
            counts.update(found.counts)
            samples.update(found.samples)
            if cells is not None:
                self._medians.put(merchant_id, as_of, cells.median())
                for key, builtin_id in split.items():
                    counts[key] = cells.count(builtin_id)
                    if sample:
                        samples[key] = self._sample(merchant_id, dynamic[key], as_of, sample)
        for key, selector in selectors.items():
            if key not in dynamic:
                ids = [c for s in range(self.shards) for chunk in self.ids_of_shard(merchant_id, selector, s)
                       for c in chunk]
                counts[key], samples[key] = len(ids), ids[:sample]
        return counts, samples

    def _sample(self, merchant_id: str, selector: Selector, as_of: datetime, size: int) -> list[str]:
        out: list[str] = []
        for page in self.iter_members(merchant_id, selector, as_of, profiles=False):
            out.extend(m.customer_id for m in page[:size - len(out)])
            if len(out) >= size:
                break
        return out
