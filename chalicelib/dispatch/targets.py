"""Who a campaign targets: a predicate over stored customers built from the run snapshot's target (pure)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.audiences.builtin import BUILTIN_IDS, BuiltinEvaluator, RfmSettings
from chalicelib.audiences.rules import compile_rule, parse_rule
from chalicelib.customers.convert import profile_from_doc
from chalicelib.customers.metrics import facts_as_of
from chalicelib.customers.model import CustomerActivity, CustomerFacts, activity_from_doc
from chalicelib.customers.rows import CustomerRow
from chalicelib.dispatch.model import Recipient, holdout

RowTest = Callable[[CustomerRow], bool]


@dataclass(frozen=True)
class Target:
    """`members` (explicit lists, frozen snapshots) lets the plan read just those customers."""

    test: RowTest
    members: frozenset[str] | None = None
    needs_median: bool = False
    stored: str | None = None  # a frozen snapshot or list audience: its member ids are read per shard


def facts_of(row: CustomerRow, tz: str, as_of: datetime) -> CustomerFacts:
    activity = activity_from_doc(row.activity) if row.activity else CustomerActivity()
    return facts_as_of(profile_from_doc(row.customer_id, row.profile), activity, tz, as_of)


def _kind(target: dict[str, Any]) -> str:
    return str(target.get("kind") or target.get("type") or "")


def audience_id_of(target: dict[str, Any]) -> str | None:
    return target.get("audience_id") if _kind(target) == "audience" else None


def needs_median(target: dict[str, Any], audience: dict[str, Any] | None, rfm: RfmSettings) -> bool:
    aid = audience_id_of(target)
    return bool(aid and aid in BUILTIN_IDS and aid.startswith("rfm_") and rfm.monetary_threshold_fen is None
                and audience is None)


def _facts_test(pred: Callable[[CustomerFacts], bool], tz: str, as_of: datetime) -> RowTest:
    return lambda row: row.profile is not None and pred(facts_of(row, tz, as_of))


def build_target(target: dict[str, Any], tz: str, as_of: datetime, *, audience: dict[str, Any] | None = None,
                 rfm: RfmSettings | None = None, median: Fraction | None = None) -> Target:
    """The target of a campaign; `audience` is the stored custom audience body when the target names one."""
    kind = _kind(target)
    if kind in ("customers", "list", "explicit"):
        ids = frozenset(str(c) for c in target.get("customer_ids") or ())
        return Target(lambda row: row.customer_id in ids and row.profile is not None, ids)
    if kind in ("staff", "staff_friends"):
        staff = frozenset(str(s) for s in target.get("staff_ids") or ())
        return Target(lambda row: bool(row.profile) and (row.profile or {}).get("staff_owner") in staff)
    if kind == "rule":
        return Target(_facts_test(compile_rule(parse_rule(target.get("rule"), "target.rule"), as_of, tz), tz, as_of))
    if kind == "audience":
        aid = str(target.get("audience_id") or "")
        if audience is None and aid in BUILTIN_IDS:
            settings = rfm or RfmSettings()
            evaluator = BuiltinEvaluator(as_of, settings, median)
            return Target(_facts_test(evaluator.predicate(aid), tz, as_of),
                          needs_median=needs_median(target, audience, settings))
        body = audience or {}
        if body.get("rule") and _kind(body) in ("custom", "dynamic", "rule", ""):
            pred = compile_rule(parse_rule(body["rule"], "audience.rule"), as_of, tz)
            return Target(_facts_test(pred, tz, as_of))
        if audience is not None:
            return Target(lambda row: row.profile is not None, stored=aid)
        return Target(lambda row: False, frozenset())
    return Target(lambda row: False, frozenset())


def birthday_test(delay_days: int, tz: str, as_of: datetime) -> RowTest:
    """Triggered 'birthday' campaigns: the birthday was `delay_days` ago (29 Feb falls on 28 Feb otherwise)."""
    day = as_of.astimezone(ZoneInfo(tz)).date() - timedelta(days=delay_days)

    def test(row: CustomerRow) -> bool:
        raw = (row.profile or {}).get("birthday")
        if not raw:
            return False
        born = date.fromisoformat(raw)
        month, dom = born.month, born.day
        if (month, dom) == (2, 29) and not _leap(day.year):
            dom = 28
        return (month, dom) == (day.month, day.day)
    return test


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def recipient_of(row: CustomerRow, campaign_id: str, holdout_percent: float) -> Recipient:
    """What a chunk keeps of a customer: contact data, consent as of now, the holdout decision."""
    profile = row.profile or {}
    unsubscribed: Iterable[str] = (row.activity or {}).get("unsubscribed") or ()
    consent = profile_from_doc(row.customer_id, row.profile).consent.granted() - frozenset(unsubscribed)
    return Recipient(row.customer_id, profile.get("nickname"), profile.get("phone"), profile.get("email"),
                     profile.get("staff_owner"), consent, bool(profile.get("risk_flag")),
                     holdout(campaign_id, row.customer_id, holdout_percent))
