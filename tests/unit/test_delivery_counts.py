"""Reports' delivery counters and index rows (reports.delivery_counts) and dispatch's tallied bitmap."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.dispatch.model import Recipient
from chalicelib.dispatch.tally import tallied_of, tally_bits
from chalicelib.reports.delivery_counts import (
    CLAIMED,
    CLAIMERS,
    HELD_OUT,
    ISSUED,
    REACHED,
    Figures,
    Settled,
    decode_rows,
    deltas,
    encode_rows,
    expiry_day,
    expiry_key,
    reason_key,
    status_of,
    summed,
)
from chalicelib.reports.model import DeliveryStatus

STATUSES = list(DeliveryStatus)


def test_reason_codes_become_attribute_names():
    assert reason_key("quiet_hours") == "quiet_hours"
    assert reason_key("provider_error: SES said no") == "provider_error"
    assert reason_key("Bad-Code!") == "bad_code"
    assert reason_key(None) == reason_key("") == reason_key("::") == "unknown"
    assert len(reason_key("x" * 500)) == 60


def test_reached_and_held_out_carry_no_reason_and_other_outcomes_keep_theirs():
    assert status_of("succeeded", "ignored") == (DeliveryStatus.REACHED, None)
    assert status_of("held_out", "ignored") == (DeliveryStatus.HELD_OUT, None)
    assert status_of("failed", "bounced") == (DeliveryStatus.FAILED, "bounced")
    assert status_of("cancelled", None) == (DeliveryStatus.NOT_SENT, "cancelled")
    assert status_of("suppressed", "daily_cap") == (DeliveryStatus.SUPPRESSED, "daily_cap")


def test_deltas_count_each_status_by_reason_and_coupons_claimed_only_for_the_wallet():
    rows = [Settled("a", DeliveryStatus.REACHED, None, 1, 2, True), Settled("b", DeliveryStatus.HELD_OUT, None, 1, 0,
            True), Settled("c", DeliveryStatus.FAILED, "bounced", 1, 0, False),
            Settled("d", DeliveryStatus.SUPPRESSED, "daily_cap", None, 0, False),
            Settled("e", DeliveryStatus.NOT_SENT, "cancelled", None, 0, False)]
    inbox = deltas(rows, direct=False)
    assert inbox == {REACHED: 1, HELD_OUT: 1, "f_bounced": 1, "s_daily_cap": 1, "n_cancelled": 1, ISSUED: 2}
    wallet = deltas(rows, direct=True)
    assert wallet[CLAIMED] == 2 and wallet[CLAIMERS] == 1
    figures = summed([dict(wallet), dict(wallet), {"pk": "x", "kind": "CTOTAL", "junk": 3}])
    assert figures.get(REACHED) == 2 and figures.get("junk") == 0 and figures.settled == 10
    assert figures.reasons(DeliveryStatus.FAILED) == {"bounced": 2}


def test_expiries_are_counted_by_day_up_to_today_and_within_the_range():
    assert expiry_day(expiry_key(date(2026, 12, 7))) == date(2026, 12, 7)
    assert expiry_day("x_2026") is None and expiry_day("rc") is None
    figures = Figures({expiry_key(date(2026, 12, d)): d for d in (1, 5, 9)})
    assert figures.expired(date(2026, 12, 5)) == 6
    assert figures.expired(date(2026, 12, 31), low=date(2026, 12, 2)) == 14
    assert figures.expired(date(2026, 12, 31), high=date(2026, 12, 4)) == 1


rows_strategy = st.lists(st.builds(
    Settled, st.text(min_size=1, max_size=8), st.sampled_from(STATUSES), st.none() | st.text(max_size=12),
    st.none() | st.integers(0, 2**40), st.integers(0, 3), st.booleans(),
    st.lists(st.text(min_size=1, max_size=6), max_size=3).map(tuple)), max_size=8)


@given(rows_strategy)
def test_index_rows_round_trip_with_derived_coupons_not_stored(rows):
    units = 3
    decoded = decode_rows(encode_rows(rows), DeliveryStatus.FAILED, units)
    assert len(decoded) == len(rows)
    for got, row in zip(decoded, rows, strict=True):
        assert (got.customer_id, got.reason, got.at) == (row.customer_id, row.reason, row.at)
        if not row.coupons:
            assert got.coupons == 0 and got.instances == ()
        elif row.derived:
            assert got.derived and got.coupons == units and got.instances == ()
        else:
            assert got.instances == row.instances and got.coupons == len(row.instances)


@given(st.lists(st.text(min_size=1, max_size=5), unique=True, max_size=40), st.data())
def test_tallied_bitmap_round_trips_over_the_chunk_order(ids, data):
    recipients = [Recipient(c) for c in ids]
    tallied = frozenset(data.draw(st.lists(st.sampled_from(ids), unique=True)) if ids else [])
    bits = tally_bits(recipients, tallied)
    assert (bits == "") == (not tallied)
    assert tallied_of(recipients, bits) == tallied
