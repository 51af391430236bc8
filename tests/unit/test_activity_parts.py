"""The activity document's stored form: inline while small, compressed pieces that each fit an item when large."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime

import pytest

from chalicelib.customers import activity_parts
from chalicelib.customers.activity_parts import ActivityTooLarge, decode, encode
from chalicelib.customers.metrics import epoch_seconds, facts_as_of
from chalicelib.customers.model import (
    CountedOrder,
    CustomerActivity,
    CustomerProfile,
    activity_from_doc,
    activity_to_doc,
)

NOW = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
ITEM_LIMIT = 400 * 1024


def _order_id(n: int) -> str:
    """A 64-character order id (the longest the API accepts), as a POS might write it."""
    return f"pos03-guest-{n:08d}-" + hashlib.sha1(str(n).encode()).hexdigest()[:43]


def _guest(orders: int, days: int) -> CustomerActivity:
    """A walk-in account: `orders` paid orders spread over the last `days` days."""
    step = days * 86_400 // orders
    return CustomerActivity(
        orders={_order_id(n): CountedOrder(epoch_seconds(NOW) - n * step, 1800 + n % 700)
                for n in range(orders)},
        watermark=epoch_seconds(NOW))


def test_a_small_activity_stays_inline_json() -> None:
    doc = activity_to_doc(_guest(20, 10))
    stored = encode(doc)
    assert stored.text is not None and stored.pieces == () and stored.parts == 0
    assert decode(stored.text, ()) == doc


def test_5000_orders_in_100_days_fit_compressed_pieces_and_read_back_exactly() -> None:
    activity = _guest(5_000, 100)
    doc = activity_to_doc(activity)
    assert len(json.dumps(doc).encode()) > ITEM_LIMIT  # one item could not hold it (the dead-lettered guest)
    stored = encode(doc)
    assert stored.text is None and 1 <= len(stored.pieces) <= activity_parts.MAX_PIECES
    assert all(len(p) <= activity_parts.PIECE_BYTES < ITEM_LIMIT for p in stored.pieces)
    back = decode(None, stored.pieces)
    assert back == doc
    facts = facts_as_of(CustomerProfile("guest"), activity_from_doc(back), "Asia/Shanghai", NOW)
    assert (facts.orders_180d, facts.orders_total) == (5_000, 5_000)
    assert facts.spend_180d == sum(o.amount_fen for o in activity.orders.values())


def test_pieces_split_at_piece_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(activity_parts, "INLINE_MAX", 100)
    monkeypatch.setattr(activity_parts, "PIECE_BYTES", 1_000)
    doc = activity_to_doc(_guest(200, 60))  # ~7 KB compressed: 8 pieces
    stored = encode(doc)
    assert stored.parts == len(stored.pieces) - 1 >= 2
    assert [len(p) for p in stored.pieces[:-1]] == [1_000] * stored.parts and len(stored.pieces[-1]) <= 1_000
    assert decode(None, stored.pieces) == doc


def test_an_activity_past_max_pieces_is_refused_by_name() -> None:
    noise = os.urandom(activity_parts.PIECE_BYTES * activity_parts.MAX_PIECES + 1).hex()  # compresses to half
    with pytest.raises(ActivityTooLarge, match="more than"):
        encode({"v": 1, "noise": noise})


def test_the_largest_storable_activity_still_fits_in_max_pieces() -> None:
    noise = os.urandom(activity_parts.PIECE_BYTES * (activity_parts.MAX_PIECES - 1)).hex()[
        :activity_parts.PIECE_BYTES * (activity_parts.MAX_PIECES - 1)]
    stored = encode({"noise": noise})  # hex compresses to about half: well within the pieces
    assert len(stored.pieces) <= activity_parts.MAX_PIECES


def test_part_keys_sort_between_the_activity_and_the_profile() -> None:
    keys = sorted(["c1#P", "c1#A", activity_parts.part_sk("c1", "A", 2), activity_parts.part_sk("c1", "A", 1),
                   "c10#A"])
    assert keys == ["c1#A", "c1#A.01", "c1#A.02", "c1#P", "c10#A"]
