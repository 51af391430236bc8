"""Audience domain: kinds, limits, the selector an evaluation runs and the Member it yields."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from chalicelib.audiences.rules import Group
from chalicelib.core.errors import QuotaExceeded
from chalicelib.customers.model import CustomerFacts

MAX_MEMBERS = 300_000  # SPEC §4: an audience reaches at most this many customers
MAX_STORED_AUDIENCES = 50  # SPEC §4: custom audiences (custom, frozen and list kinds) per merchant
MAX_NAME = 20
SAMPLE_SIZE = 20
MEMBERS_LIMIT = "customers_per_audience"  # the limit's name in 429 answers
AUDIENCES_LIMIT = "custom_audiences_per_merchant"


class AudienceKind(StrEnum):
    """Stored as the definition's status, so `?kind=` filters with the repository's status filter."""

    BUILTIN = "builtin"
    CUSTOM = "custom"  # a rule, re-evaluated at each use
    FROZEN = "frozen"  # a snapshot of member ids, evaluated once
    LIST = "list"  # explicit member ids




class SelectorKind(StrEnum):
    BUILTIN = "builtin"  # `builtin_id`
    RULE = "rule"  # `rule`
    STORED = "stored"  # member ids kept by the member store under `audience_id` (frozen and list audiences)
    IDS = "ids"  # `customer_ids` given inline (a campaign's explicit customers)
    STAFF = "staff"  # customers whose staff owner is one of `staff_ids`


@dataclass(frozen=True, slots=True)
class Selector:
    """What to evaluate: one of the SelectorKind shapes, resolved from an audience or a campaign target."""

    kind: SelectorKind
    builtin_id: str | None = None
    rule: Group | None = None
    audience_id: str | None = None
    customer_ids: tuple[str, ...] = ()
    staff_ids: frozenset[str] = frozenset()

    @property
    def dynamic(self) -> bool:
        """Evaluated over every customer of the merchant (rather than looked up by id)."""
        return self.kind in (SelectorKind.BUILTIN, SelectorKind.RULE, SelectorKind.STAFF)

    @property
    def rfm(self) -> bool:
        return self.kind is SelectorKind.BUILTIN and (self.builtin_id or "").startswith("rfm_")


@dataclass(frozen=True, slots=True)
class Member:
    """One audience member with what channels need; `channels` are consented and not unsubscribed.

    `facts` are the customer's facts at the evaluation's as_of (None when only ids were asked for);
    `known` is False for a listed id with neither profile nor activity stored.
    """

    customer_id: str
    nickname: str | None = None
    phone: str | None = None
    email: str | None = None
    staff_owner: str | None = None
    channels: frozenset[str] = frozenset()
    risk_flagged: bool = False
    facts: CustomerFacts | None = None
    known: bool = True


def over_limit(count: int) -> bool:
    """Whether an audience of `count` customers is over the per-audience limit."""
    return count > MAX_MEMBERS


def check_audience_size(count: int) -> None:
    """Refuse (429 naming the limit) an audience, or a send to one, of more than MAX_MEMBERS customers."""
    if over_limit(count):
        raise QuotaExceeded(f"the audience has {count} customers; an audience reaches at most {MAX_MEMBERS}",
                            field=MEMBERS_LIMIT)


@dataclass(frozen=True)
class AudienceView:
    """An audience as listed: a built-in one or a stored definition, with its member count."""

    audience_id: str
    kind: str
    name: str
    name_en: str | None = None
    description: str = ""
    count: int | None = None
    version: int | None = None
    rule: dict[str, Any] | None = None
    source_audience_id: str | None = None
    frozen_at: str | None = None
    unmatched_phones: int | None = None
    unmatched_nicknames: int | None = None
    unmatched: dict[str, list[str]] | None = None
    created_at: str | None = None
    updated_at: str | None = None

    @property
    def over_limit(self) -> bool:
        return self.count is not None and over_limit(self.count)
