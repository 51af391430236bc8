"""Audience use cases: create / change / delete definitions, list with counts, estimate, page members."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from chalicelib.audiences import members as paging
from chalicelib.audiences.builtin import BUILTIN_AUDIENCES, BUILTIN_IDS
from chalicelib.audiences.evaluate import AudienceEngine, second
from chalicelib.audiences.model import (
    AUDIENCES_LIMIT,
    MAX_STORED_AUDIENCES,
    SAMPLE_SIZE,
    AudienceKind,
    AudienceView,
    Member,
    Selector,
    SelectorKind,
    check_audience_size,
)
from chalicelib.audiences.rules import RuleError, parse_rule
from chalicelib.core.clock import Clock, to_iso
from chalicelib.core.errors import Conflict, Invalid, NotFound, PreconditionFailed, QuotaExceeded
from chalicelib.core.idempotency import derive_id, fingerprint
from chalicelib.core.ports import Repo
from chalicelib.core.records import AlreadyExists, Record
from chalicelib.customers.lookup import nickname_key, normalize_phone

# A campaign in one of these states keeps its audience from being deleted.
LIVE_CAMPAIGN_STATUSES = frozenset({"scheduled", "running", "active", "paused"})
MEMBER_SOURCES = ("customer_ids", "phones", "nicknames")  # what a list audience's members are given by
_BUILTIN = {a.id: a for a in BUILTIN_AUDIENCES}


class MemberWriter(Protocol):
    def replace(self, merchant_id: str, audience_id: str, customer_ids: Iterable[str]) -> int: ...

    def all_ids(self, merchant_id: str, audience_id: str) -> set[str]: ...

    def delete(self, merchant_id: str, audience_id: str) -> None: ...


class CustomerLookup(Protocol):
    def find_by_phone(self, merchant_id: str, phone: str) -> list[str]: ...

    def find_by_nickname(self, merchant_id: str, nickname: str) -> list[str]: ...


def builtin_view(audience_id: str, count: int | None) -> AudienceView:
    a = _BUILTIN[audience_id]
    return AudienceView(a.id, "builtin", a.name_zh, a.name_en, a.description, count)


def stored_view(record: Record, count: int | None = None) -> AudienceView:
    d = record.data
    return AudienceView(
        record.id, record.status or "custom", d["name"], None, d.get("description") or "",
        d.get("count") if count is None else count, record.version, d.get("rule") or d.get("source_rule"),
        d.get("source_audience_id"),
        d.get("frozen_at"), d.get("unmatched_phones"), d.get("unmatched_nicknames"), d.get("unmatched"),
        record.created_at, record.updated_at)


class AudienceService:
    def __init__(self, audiences: Repo, campaigns: Repo, engine: AudienceEngine, members: MemberWriter,
                 lookup: CustomerLookup, clock: Clock) -> None:
        self._repo = audiences
        self._campaigns = campaigns
        self.engine = engine
        self._members = members
        self._lookup = lookup
        self._clock = clock

    # -- reading ----------------------------------------------------------------------------------------
    def list_audiences(self, merchant_id: str, kind: str | None, non_empty: bool, limit: int,
             start_key: dict[str, Any] | None) -> tuple[list[AudienceView], dict[str, Any] | None]:
        """Built-ins (first page only) and stored audiences, counted now: every dynamic one in one pass."""
        builtins = BUILTIN_IDS if kind in (None, "builtin") and start_key is None else ()
        records: list[Record] = []
        last = None
        if kind != "builtin":
            records, last = self._repo.list(merchant_id, limit=limit, start_key=start_key, status=kind)
        selectors = {aid: Selector(SelectorKind.BUILTIN, builtin_id=aid) for aid in builtins}
        for r in records:
            if r.status == AudienceKind.CUSTOM:
                try:
                    selectors[r.id] = self.engine.selector_of(r)
                except RuleError:
                    continue  # a rule the catalogue no longer accepts: listed without a count, not a failed list
        counts = self.engine.counts(merchant_id, selectors, self._clock())[0] if selectors else {}
        views = [builtin_view(aid, counts[aid]) for aid in builtins]
        views += [stored_view(r, counts.get(r.id)) for r in records]
        return [v for v in views if not non_empty or v.count], last

    def get(self, merchant_id: str, audience_id: str) -> AudienceView:
        if audience_id in BUILTIN_IDS:
            selector = Selector(SelectorKind.BUILTIN, builtin_id=audience_id)
            return builtin_view(audience_id, self.engine.count(merchant_id, selector, self._clock()))
        record = self._repo.get(merchant_id, audience_id)
        if record is None:
            raise NotFound(f"no audience {audience_id}", field="path.audience_id")
        selector = self.engine.selector_of(record)
        count = self.engine.count(merchant_id, selector, self._clock()) if selector.dynamic else None
        return stored_view(record, count)

    def estimate(self, merchant_id: str, rule: dict[str, Any] | None, audience_id: str | None
                 ) -> tuple[int, list[str], datetime]:
        if (rule is None) == (audience_id is None):
            raise Invalid("give exactly one of rule and audience_id", field="body")
        selector = (Selector(SelectorKind.RULE, rule=parse_rule(rule, "body.rule")) if rule is not None
                    else self.engine.selector_for(merchant_id, str(audience_id), "body.audience_id"))
        as_of = second(self._clock())
        counts, samples = self.engine.counts(merchant_id, {"x": selector}, as_of, sample=SAMPLE_SIZE)
        return counts["x"], samples["x"], as_of

    def members(self, merchant_id: str, audience_id: str, position: paging.Position | None, limit: int,
                profiles: bool) -> tuple[list[Member], paging.Position | None, paging.Position]:
        selector = self.engine.selector_for(merchant_id, audience_id)
        pos = position or paging.start(self._clock())
        found, nxt = paging.page(self.engine, merchant_id, selector, pos, limit, profiles)
        return found, nxt, pos

    # -- writing ----------------------------------------------------------------------------------------
    def create(self, merchant_id: str, body: dict[str, Any], idempotency_key: str | None) -> tuple[AudienceView, bool]:
        """A new custom / frozen / list audience; the same Idempotency-Key and body return the first one."""
        fp = fingerprint(body)
        audience_id = derive_id("aud", merchant_id, "audiences", idempotency_key)
        if idempotency_key is not None and (existing := self._repo.get(merchant_id, audience_id)) is not None:
            return self._replayed(existing, fp), False
        if self._repo.count(merchant_id) >= MAX_STORED_AUDIENCES:
            raise QuotaExceeded(f"a merchant keeps at most {MAX_STORED_AUDIENCES} custom audiences",
                                field=AUDIENCES_LIMIT)
        kind = AudienceKind(body.get("kind") or "custom")
        now = self._clock()
        data: dict[str, Any] = {"kind": kind.value, "name": body["name"], "description": body.get("description") or ""}
        self._only(kind, body)
        if kind is AudienceKind.CUSTOM:
            if body.get("rule") is None:
                raise Invalid("a custom audience needs a rule", field="body.rule")
            parse_rule(body["rule"], "body.rule")
            data["rule"] = body["rule"]
        elif kind is AudienceKind.FROZEN:
            data.update(self._freeze(merchant_id, audience_id, body))
            data["frozen_at"] = to_iso(now)
        else:
            if all(body.get(name) is None for name in MEMBER_SOURCES):
                raise Invalid("a list audience needs customer_ids, phones or nicknames", field="body.customer_ids")
            data.update(self._store_list(merchant_id, audience_id, body, set()))
        try:
            record = self._repo.create(merchant_id, audience_id, data, now, status=kind.value, name=data["name"],
                                       idem_fp=fp)
        except AlreadyExists as exc:
            return self._replayed(exc.existing, fp), False
        return stored_view(record), True

    @staticmethod
    def _replayed(existing: Record, fp: str) -> AudienceView:
        if existing.idem_fp != fp:
            raise Conflict("this Idempotency-Key was used with another body", field="header.Idempotency-Key")
        return stored_view(existing)

    @staticmethod
    def _only(kind: AudienceKind, body: dict[str, Any]) -> None:
        allowed = {AudienceKind.CUSTOM: ("rule",), AudienceKind.FROZEN: ("rule", "source_audience_id"),
                   AudienceKind.LIST: MEMBER_SOURCES}[kind]
        for name in ("rule", "source_audience_id", *MEMBER_SOURCES):
            if body.get(name) is not None and name not in allowed:
                raise Invalid(f"a {kind.value} audience takes no {name}", field=f"body.{name}")

    def _freeze(self, merchant_id: str, audience_id: str, body: dict[str, Any]) -> dict[str, Any]:
        rule, source = body.get("rule"), body.get("source_audience_id")
        if (rule is None) == (source is None):
            raise Invalid("a frozen audience needs exactly one of rule and source_audience_id", field="body.rule")
        try:
            selector = (Selector(SelectorKind.RULE, rule=parse_rule(rule, "body.rule")) if rule is not None
                        else self.engine.selector_for(merchant_id, str(source), "body.source_audience_id"))
        except NotFound as exc:
            raise Invalid(exc.reason, field="body.source_audience_id") from exc
        ids: list[str] = []
        for page in self.engine.iter_members(merchant_id, selector, self._clock(), profiles=False):
            ids.extend(m.customer_id for m in page)
            check_audience_size(len(ids))
        count = self._members.replace(merchant_id, audience_id, ids)
        # Not under "rule": a frozen audience must never be mistaken for a dynamic one by a reader of the body.
        return {"count": count, "source_rule": rule, "source_audience_id": source}

    def _store_list(self, merchant_id: str, audience_id: str, body: dict[str, Any], keep: set[str]
                    ) -> dict[str, Any]:
        """Members from ids, phones (one Query each, by the normalised number) and exact nicknames (one Query each;
        every customer of the nickname); what matched nobody is named back as it was given."""
        ids = set(keep) | set(body.get("customer_ids") or ())
        unmatched: dict[str, list[str]] = {"phones": [], "nicknames": []}
        searches = (("phones", normalize_phone, self._lookup.find_by_phone),
                    ("nicknames", nickname_key, self._lookup.find_by_nickname))
        for name, key, find in searches:
            given: dict[str, str] = {}
            for value in body.get(name) or ():
                given.setdefault(key(value), value)  # one search per number or nickname, named as first given
            for value in given.values():
                found = find(merchant_id, value)
                ids.update(found)
                if not found:
                    unmatched[name].append(value)
        check_audience_size(len(ids))
        return {"count": self._members.replace(merchant_id, audience_id, ids),
                "unmatched_phones": len(unmatched["phones"]), "unmatched_nicknames": len(unmatched["nicknames"]),
                "unmatched": unmatched}

    def _stored(self, merchant_id: str, audience_id: str, if_match: int | None) -> Record:
        if audience_id in BUILTIN_IDS:
            raise Conflict("built-in audiences cannot be changed or deleted", field="path.audience_id")
        record = self._repo.get(merchant_id, audience_id)
        if record is None:
            raise NotFound(f"no audience {audience_id}", field="path.audience_id")
        if if_match is not None and if_match != record.version:
            raise PreconditionFailed(f"version {if_match} is stale; current is {record.version}",
                                     field="header.If-Match")
        return record

    def patch(self, merchant_id: str, audience_id: str, patch: dict[str, Any], if_match: int | None) -> AudienceView:
        record = self._stored(merchant_id, audience_id, if_match)
        kind = AudienceKind(record.status or "custom")
        data = dict(record.data)
        for name in ("name", "description"):
            if patch.get(name) is not None:
                data[name] = patch[name]
        if patch.get("rule") is not None:
            if kind is not AudienceKind.CUSTOM:
                raise Invalid(f"a {kind.value} audience keeps its members; only custom audiences have a rule",
                              field="body.rule")
            parse_rule(patch["rule"], "body.rule")
            data["rule"] = patch["rule"]
        if any(patch.get(name) is not None for name in MEMBER_SOURCES):
            self._only(kind, {k: patch.get(k) for k in MEMBER_SOURCES})
            data.update(self._store_list(merchant_id, audience_id, patch, set()))
        updated = self._repo.update(merchant_id, audience_id, data, self._clock(), expected_version=record.version,
                                    status=kind.value, name=data["name"])
        return stored_view(updated)

    def add_members(self, merchant_id: str, audience_id: str, body: dict[str, Any], if_match: int | None
                    ) -> AudienceView:
        """Append to a list audience (ids already there are not counted twice)."""
        record = self._stored(merchant_id, audience_id, if_match)
        if record.status != AudienceKind.LIST:
            raise Invalid(f"only list audiences take members; this one is {record.status}", field="body.customer_ids")
        if all(body.get(name) is None for name in MEMBER_SOURCES):
            raise Invalid("give customer_ids, phones or nicknames", field="body.customer_ids")
        keep = self._members.all_ids(merchant_id, audience_id)
        data = {**record.data, **self._store_list(merchant_id, audience_id, body, keep)}
        return stored_view(self._repo.update(merchant_id, audience_id, data, self._clock(),
                                             expected_version=record.version, status=record.status,
                                             name=data["name"]))

    def delete(self, merchant_id: str, audience_id: str, if_match: int | None) -> None:
        """Permanent; refused (409) while a scheduled, running or paused campaign targets the audience."""
        record = self._stored(merchant_id, audience_id, if_match)
        for campaign in self._campaigns.iter_all(merchant_id):
            target = campaign.data.get("target") or {}
            if (campaign.status in LIVE_CAMPAIGN_STATUSES and target.get("kind") == "audience"
                    and target.get("audience_id") == audience_id):
                raise Conflict(f"campaign {campaign.id} ({campaign.status}) uses this audience",
                               field="path.audience_id")
        self._repo.delete(merchant_id, audience_id, expected_version=record.version)
        if record.status in (AudienceKind.FROZEN, AudienceKind.LIST):
            self._members.delete(merchant_id, audience_id)
