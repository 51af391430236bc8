"""Pure dispatch rules: holdout, chunk splitting, transaction sizing, screening, progress, keys, triggers."""

from __future__ import annotations

from datetime import UTC, date, datetime

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.activity.consumer import Change
from chalicelib.campaigns.schedule_triggered import TriggeredSchedule, TriggerEvent
from chalicelib.dispatch.model import (
    Chunk,
    ChunkState,
    Entry,
    Outcome,
    Recipient,
    bucket_of,
    holdout,
    minutes_between,
    run_id_for,
)
from chalicelib.dispatch.plan import chunk_size, split
from chalicelib.dispatch.runs import progress
from chalicelib.dispatch.screening import screen
from chalicelib.dispatch.targets import birthday_test
from chalicelib.dispatch.triggers import matches, occurrences

NOW = datetime(2026, 11, 23, 4, 0, 30, tzinfo=UTC)


def test_holdout_is_deterministic_and_close_to_the_percent_when_many_customers():
    ids = [f"c{i}" for i in range(20_000)]
    held = [c for c in ids if holdout("cmp_1", c, 10)]
    assert held == [c for c in ids if holdout("cmp_1", c, 10)]
    assert 1_800 < len(held) < 2_200
    assert not any(holdout("cmp_1", c, 0) for c in ids[:100])


@given(st.lists(st.booleans(), max_size=400), st.integers(0, 500), st.integers(1, 100),
       st.one_of(st.none(), st.integers(1, 60)))
def test_split_never_straddles_a_slice_nor_exceeds_the_chunk_size_when_any_input(flags, base, size, batch):
    people = [Recipient(f"c{i}", held_out=h) for i, h in enumerate(flags)]
    parts = split(people, base, size, batch)
    assert [r for chunk, _ in parts for r in chunk] == people
    position = base
    for chunk, slice_no in parts:
        assert 0 < len(chunk) <= size
        for r in chunk:
            if not r.held_out:
                assert slice_no == (position // batch if batch else 0)
                position += 1


def test_chunk_size_is_whole_transactions_when_coupons_take_several_items():
    assert chunk_size(1, 1, 0) == 194  # two transactions of 97
    assert chunk_size(5, 1, 0) == 190  # ten transactions of 19
    assert chunk_size(0, 0, 0) == 196
    assert chunk_size(1, 1, 1, 2) == 188  # a coupon and a guard counter each: four transactions of 47
    assert chunk_size(60, 0, 0) == 200  # one recipient a transaction


def test_screen_holds_out_then_caps_then_checks_consent():
    assert screen(Recipient("a", held_out=True), "sms") == (Outcome.HELD_OUT, None)
    assert screen(Recipient("a", over_cap=True, consent=frozenset({"sms"})), "sms") == (
        Outcome.SUPPRESSED, "quota_max_recipients")
    assert screen(Recipient("a", consent=frozenset({"wallet"})), "sms") == (Outcome.SUPPRESSED, "no_consent")
    assert screen(Recipient("a", consent=frozenset({"sms"})), "sms") is None


def test_progress_counts_each_outcome_and_dead_letters_when_a_chunk_died():
    alive = Chunk("m", "r", "1", [Recipient(c) for c in "abcdef"], {
        "a": Entry(Outcome.HELD_OUT), "b": Entry(Outcome.SUPPRESSED, "no_consent"), "c": Entry(Outcome.SUCCEEDED),
        "d": Entry(Outcome.FAILED, "webhook_failed"), "e": Entry(Outcome.HANDING)})
    dead = Chunk("m", "r", "2", [Recipient("g"), Recipient("h")], {"g": Entry(Outcome.SUCCEEDED)},
                 ChunkState.READY, receives=5, last_error="KeyError: 'arn:aws:dynamodb:…' boom")
    p = progress([alive, dead])
    assert (p.targeted, p.held_out, p.succeeded, p.pending, p.handed_over) == (8, 1, 2, 2, 4)
    assert p.suppressed == {"no_consent": 1}
    assert p.failed_reasons == {"dead_letter": 1, "webhook_failed": 1}  # the chunk's error text stays inside


def test_progress_shows_codes_only_when_a_ledger_holds_free_text():
    """Reasons a tenant sees come from a fixed vocabulary; anything else (exception text, an undocumented code)
    reads internal_error and goes to our logs."""
    chunk = Chunk("m", "r", "1", [Recipient(c) for c in "abcd"], {
        "a": Entry(Outcome.FAILED, "ClientError: An error occurred (AccessDenied) arn:aws:ses:…"),
        "b": Entry(Outcome.FAILED, "http_404"), "c": Entry(Outcome.SUPPRESSED, "Traceback (most recent call)"),
        "d": Entry(Outcome.FAILED, "out_of_stock")})
    p = progress([chunk])
    assert p.failed_reasons == {"internal_error": 2, "out_of_stock": 1}
    assert p.suppressed == {"internal_error": 1}


def test_keys_are_deterministic_and_buckets_are_utc_minutes():
    assert run_id_for("m", "c", NOW) == run_id_for("m", "c", NOW)
    assert run_id_for("m", "c", NOW) != run_id_for("m", "c2", NOW)
    assert bucket_of(NOW) == "DUE#2026-11-23T04:00"
    assert len(minutes_between(NOW.replace(minute=0), NOW.replace(minute=4))) == 5


def test_birthday_test_matches_feb_29_on_feb_28_when_the_year_is_not_leap():
    test = birthday_test(0, "Asia/Shanghai", datetime(2027, 2, 28, 4, 0, tzinfo=UTC))
    assert test(date(2000, 2, 29))
    assert not test(date(2000, 3, 1)) and not test(None)
    later = birthday_test(3, "Asia/Shanghai", datetime(2027, 3, 3, 4, 0, tzinfo=UTC))
    assert later(date(1990, 2, 28))


def test_an_order_triggers_purchase_once_when_it_becomes_paid():
    order = {"order_id": "o1", "customer_id": "c1", "paid_at": "2026-11-23T04:00:00Z", "status": "paid",
             "items": [{"item_id": "sku_1"}]}
    fired = list(occurrences(Change("m", "ORDER", order, None, "1")))
    assert [(t, k) for t, _, k, _, _ in fired] == [(TriggerEvent.PURCHASE, "order:o1"),
                                                   (TriggerEvent.PURCHASE_ITEMS, "order:o1")]
    assert list(occurrences(Change("m", "ORDER", dict(order, status="completed"), order, "2"))) == []
    items = TriggeredSchedule(TriggerEvent.PURCHASE_ITEMS, item_ids=("sku_1",))
    assert matches(items, TriggerEvent.PURCHASE_ITEMS, frozenset({"sku_1"}))
    assert not matches(items, TriggerEvent.PURCHASE_ITEMS, frozenset({"sku_2"}))
