"""Audience evaluation without AWS: the engine over fake shards, one-pass RFM counts, member paging, CSV."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.audiences import members as paging
from chalicelib.audiences.builtin import BUILTIN_IDS, BuiltinEvaluator, RfmSettings, rfm_median
from chalicelib.audiences.csvout import members_csv
from chalicelib.audiences.evaluate import facts_of
from chalicelib.audiences.model import Member, Selector, SelectorKind, check_audience_size, over_limit
from chalicelib.audiences.rules import parse_rule
from chalicelib.core.errors import NotFound, QuotaExceeded
from chalicelib.core.records import Record
from tests.support.audiences import AS_OF, ROWS, SHARDS, TZ, engine, row, shard

RFM_IDS = [a for a in BUILTIN_IDS if a.startswith("rfm_")]


def ids(pages: Iterable[list[Member]]) -> list[str]:
    return [m.customer_id for page in pages for m in page]


def test_iter_members_pages_a_builtin_audience_and_one_shard_at_a_time() -> None:
    eng, _, medians = engine(ROWS)
    sel = Selector(SelectorKind.BUILTIN, builtin_id="rec_recent_buyers")
    assert sorted(ids(eng.iter_members("m", sel, AS_OF))) == ["a", "b", "c", "d"]
    by_shard = [ids(eng.iter_members("m", sel, AS_OF, shard=s)) for s in range(SHARDS)]
    assert sorted(c for part in by_shard for c in part) == ["a", "b", "c", "d"]
    assert all(shard(c) == s for s, part in enumerate(by_shard) for c in part)
    first = next(iter(eng.iter_members("m", sel, AS_OF)))[0]
    assert first.facts is not None and first.nickname == f"n{first.customer_id}"
    assert medians.values == {}  # a non-RFM audience needs no median


def test_rfm_members_reuse_the_cached_median_across_segments() -> None:
    eng, customers, medians = engine(ROWS)
    sel = Selector(SelectorKind.BUILTIN, builtin_id="rfm_high_value")
    eng.prepare("m", sel, AS_OF)
    reads_after_prepare = customers.segment_reads
    assert reads_after_prepare == SHARDS and AS_OF in medians.values
    found = [c for s in range(SHARDS) for c in ids(eng.iter_members("m", sel, AS_OF, shard=s))]
    assert found == ["a"] and customers.segment_reads == reads_after_prepare + SHARDS


def test_resolve_target_shard_reads_every_target_kind_with_profile_fields() -> None:
    records = {"aud_l": Record("m", "AUDIENCE", "aud_l", {"name": "l"}, 1, "", "", status="list"),
               "aud_c": Record("m", "AUDIENCE", "aud_c", {"name": "c", "rule": {"all": [
                   {"field": "orders_180d", "op": "gte", "value": 2}]}}, 1, "", "", status="custom")}
    eng, _, _ = engine(ROWS, stored={"aud_l": ["a", "zz"]}, records=records)

    def resolve(target: dict[str, Any]) -> list[Member]:
        return [m for s in range(SHARDS) for page in eng.resolve_target_shard("m", target, s, AS_OF) for m in page]

    staff = resolve({"kind": "staff_friends", "staff_ids": ["s1"]})
    assert sorted(m.customer_id for m in staff) == ["a", "h"]
    a = next(m for m in staff if m.customer_id == "a")
    assert (a.phone, a.email, a.staff_owner, a.known) == ("+8613800001111", "a@x.cn", "s1", True)
    assert {"wallet", "inbox"} <= a.channels
    listed = {m.customer_id: m for m in resolve({"kind": "audience", "audience_id": "aud_l"})}
    assert listed.keys() == {"a", "zz"} and listed["zz"].known is False and listed["a"].nickname == "na"
    assert sorted(m.customer_id for m in resolve({"kind": "audience", "audience_id": "aud_c"})) == ["a", "c", "e",
                                                                                                      "f"]
    assert [m.customer_id for m in resolve({"kind": "customers", "customer_ids": ["b", "b"]})] == ["b"]
    rule = {"any": [{"field": "aov", "op": "gte", "value": 15000}]}
    assert sorted(m.customer_id for m in resolve({"kind": "rule", "rule": rule})) == ["b", "e"]
    with pytest.raises(NotFound):
        resolve({"kind": "audience", "audience_id": "aud_other_tenant"})


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, 200), st.integers(1, 4) .map(lambda k: k * 2500)), max_size=3),
                min_size=1, max_size=14),
       st.integers(5, 60), st.integers(1, 3))
def test_one_pass_rfm_counts_agree_with_the_evaluator_and_the_median(
        histories: list[list[tuple[int, int]]], recent_days: int, frequency: int) -> None:
    rows = [row(f"c{i}", orders) for i, orders in enumerate(histories)]
    rfm = RfmSettings(recent_days, frequency)
    eng, _, medians = engine(rows, rfm)
    selectors = {a: Selector(SelectorKind.BUILTIN, builtin_id=a) for a in BUILTIN_IDS}
    counts, _ = eng.counts("m", selectors, AS_OF)
    facts = [facts_of(r, TZ, AS_OF) for r in rows]
    median = rfm_median(facts)
    reference = BuiltinEvaluator(AS_OF, rfm, median)
    assert counts == {a: sum(reference.matches(a, f) for f in facts) for a in BUILTIN_IDS}
    assert medians.values[AS_OF] == median
    for a in RFM_IDS:
        assert len(ids(eng.iter_members("m", selectors[a], AS_OF))) == counts[a]


def test_counts_sample_the_first_members_of_each_selector() -> None:
    eng, _, _ = engine(ROWS)
    rule = Selector(SelectorKind.RULE, rule=parse_rule({"all": [{"field": "orders_total", "op": "gte", "value": 1}]}))
    counts, samples = eng.counts("m", {"r": rule, "hv": Selector(SelectorKind.BUILTIN, builtin_id="rfm_high_value")},
                                 AS_OF, sample=2)
    assert counts == {"r": 6, "hv": 1} and len(samples["r"]) == 2 and samples["hv"] == ["a"]


@pytest.mark.parametrize("budget", [1, 2, 100])
@pytest.mark.parametrize("limit", [1, 3, 50])
def test_member_pages_resume_where_the_last_page_stopped(limit: int, budget: int) -> None:
    eng, _, _ = engine(ROWS + [row(f"x{i}", [(1, 100)]) for i in range(10)])
    sel = Selector(SelectorKind.BUILTIN, builtin_id="rec_recent_buyers")
    expected = sorted(ids(eng.iter_members("m", sel, AS_OF)))
    pos: paging.Position | None = paging.start(AS_OF)
    seen: list[str] = []
    while pos is not None:
        found, pos = paging.page(eng, "m", sel, pos, limit, budget=budget)
        assert len(found) <= limit
        seen += [m.customer_id for m in found]
    assert sorted(seen) == expected and len(seen) == len(set(seen))


def test_listed_member_pages_resume_and_fetch_profiles_only_when_asked() -> None:
    eng, _, _ = engine(ROWS, stored={"aud": ["a", "b", "c", "zz"]})
    sel = Selector(SelectorKind.STORED, audience_id="aud")
    found, pos = paging.page(eng, "m", sel, paging.start(AS_OF), 3, profiles=True)
    assert len(found) == 3 and pos is not None and all(m.facts is not None for m in found)
    rest, end = paging.page(eng, "m", sel, pos, 3)
    assert end is None and rest[0].facts is None
    assert sorted(m.customer_id for m in found + rest) == ["a", "b", "c", "zz"]


def test_audience_size_limit_is_300000() -> None:
    assert not over_limit(300_000) and over_limit(300_001)
    check_audience_size(300_000)
    with pytest.raises(QuotaExceeded) as err:
        check_audience_size(300_001)
    assert err.value.field == "customers_per_audience"


def test_csv_masks_phones_and_defuses_formulas() -> None:
    text = members_csv([Member("c1", "=cmd()", "+8613812345678"), Member("c2", None, None)])
    assert text == "\ufeffcustomer_id,nickname,phone\r\nc1,'=cmd(),+86138****5678\r\nc2,,\r\n"
