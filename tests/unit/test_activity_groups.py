"""Ingestion's transaction groups: at most 100 items and about 3 MB each, in the order given."""

from __future__ import annotations

from chalicelib.activity.store import TX_MAX_BYTES, ActivityItem, _groups
from chalicelib.core.tx import TX_MAX_ITEMS


def _item(i: int, doc_bytes: int = 100) -> ActivityItem:
    return ActivityItem(f"m#O#o{i}", "ORDER", merchant_id="m", customer_id="c", doc="x" * doc_bytes,
                        received_at="2026-11-23T04:00:00Z")


def test_groups_hold_100_items_when_docs_are_small() -> None:
    groups = _groups([_item(i) for i in range(250)])
    assert [len(c) for c in groups] == [100, 100, 50]
    assert [i.pk for c in groups for i in c] == [f"m#O#o{i}" for i in range(250)]


def test_groups_split_by_size_when_docs_are_large() -> None:
    big = TX_MAX_BYTES // 3  # three fit only without their per-item overhead
    groups = _groups([_item(i, big) for i in range(5)])
    assert [len(c) for c in groups] == [2, 2, 1]
    assert all(len(c) <= TX_MAX_ITEMS for c in groups)


def test_a_single_item_is_one_group_when_it_alone_is_large() -> None:
    assert [len(c) for c in _groups([_item(0, TX_MAX_BYTES + 1)])] == [1]
