"""Plan segments over the audience engine without AWS: resuming from any cursor loses and repeats nobody."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.audiences.model import Selector, SelectorKind
from chalicelib.audiences.rules import parse_rule
from chalicelib.core.records import Record
from chalicelib.dispatch.targets import TargetResolver, parse_cursor
from tests.support.audiences import AS_OF, ROWS, SHARDS, engine, row, shard

MANY = ROWS + [row(f"z{i:02d}", [(i % 40 + 1, 1000 + i)], staff_owner="s1" if i % 3 else None) for i in range(30)]
SELECTORS = {
    "rule": Selector(SelectorKind.RULE, rule=parse_rule({"all": [{"field": "orders_180d", "op": "gte", "value": 1}]})),
    "staff": Selector(SelectorKind.STAFF, staff_ids=frozenset({"s1"})),
    "builtin": Selector(SelectorKind.BUILTIN, builtin_id="rec_recent_buyers"),
    "rfm": Selector(SelectorKind.BUILTIN, builtin_id="rfm_potential_high_value"),
    "stored": Selector(SelectorKind.STORED, audience_id="aud_l"),
    "ids": Selector(SelectorKind.IDS, customer_ids=("a", "z03", "z17", "nobody")),
}


@pytest.mark.parametrize("segments", [SHARDS, 2])
@pytest.mark.parametrize("kind", sorted(SELECTORS))
def test_a_segment_resumed_from_any_cursor_yields_exactly_the_rest_when_it_stopped_there(kind: str,
                                                                                       segments: int) -> None:
    eng, _, _ = engine(MANY, stored={"aud_l": [r.customer_id for r in MANY[::2]] + ["ghost"]})
    resolver = TargetResolver(eng, segments)
    selector = SELECTORS[kind]
    resolver.prepare("m", selector, AS_OF)
    everyone: list[str] = []
    for segment in range(segments):
        pages = list(resolver.pages("m", selector, segment, None, AS_OF))
        full = [m.customer_id for members, _ in pages for m in members]
        assert all(shard(c) % segments == segment for c in full if c != "ghost" and c != "nobody")
        for n, (_, cursor) in enumerate(pages):  # stop after page n, resume from its cursor
            rest = [m.customer_id for members, _ in resolver.pages("m", selector, segment, cursor, AS_OF)
                    for m in members]
            done = [m.customer_id for members, _ in pages[:n + 1] for m in members]
            assert done + rest == full, (segment, cursor)
            assert parse_cursor(cursor)[0] % segments == segment
        everyone += full
    expected = sorted(m.customer_id for page in eng.iter_members("m", selector, AS_OF) for m in page)
    assert sorted(everyone) == expected and len(everyone) == len(set(everyone))
    assert len(everyone) == eng.count("m", selector, AS_OF)  # what an estimate counts


def test_a_missing_audience_selects_nobody_when_the_target_names_it() -> None:
    records: dict[str, Any] = {"aud_c": Record("m", "AUDIENCE", "aud_c", {"name": "c", "rule": {"all": [
        {"field": "orders_180d", "op": "gte", "value": 2}]}}, 1, "", "", status="custom")}
    eng, _, _ = engine(ROWS, records=records)
    resolver = TargetResolver(eng)
    assert resolver.selector("m", {"kind": "audience", "audience_id": "aud_gone"}) is None
    assert resolver.selector("m", {"kind": "nonsense"}) is None
    selector = resolver.selector("m", {"kind": "audience", "audience_id": "aud_c"})
    assert selector is not None and selector.kind is SelectorKind.RULE
    rows = {r.customer_id: r for r in ROWS}
    assert resolver.members_among("m", selector, AS_OF, rows) == {"a", "c", "e", "f"}
    listed = Selector(SelectorKind.IDS, customer_ids=("b", "g"))
    assert resolver.members_among("m", listed, AS_OF, {c: rows[c] for c in ("a", "b")}) == {"b"}
