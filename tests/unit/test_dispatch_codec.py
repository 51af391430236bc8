"""The chunk item's compact form: entries round-trip exactly, coupon ids are derived, chunks are bounded in bytes."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.campaigns.checks import max_coupon_units
from chalicelib.core.clock import to_iso
from chalicelib.core.itemsize import ITEM_LIMIT, item_size
from chalicelib.coupons.issue import instance_id_for
from chalicelib.dispatch.codec import (
    ENTRY_BYTES_MAX,
    REASON_MAX,
    base36,
    decode_entry,
    decode_grants,
    decode_ledger,
    derived_instances,
    dumps,
    encode_entry,
    encode_grants,
    encode_ledger,
    encode_recipient,
    from_base36,
    recipient_bytes,
)
from chalicelib.dispatch.model import CHUNK_BYTES, CHUNK_MAX, Entry, Outcome, Recipient, delivery_key
from chalicelib.dispatch.plan import split

BASE = int(datetime(2026, 11, 23, 2, 0, tzinfo=UTC).timestamp())
GRANTS = (("cpn_a", 2), ("cpn_b", 1))


def test_derived_instances_are_the_ids_the_issue_creates_in_grant_order():
    key = delivery_key("run_1", "c1")
    assert derived_instances("m1", "run_1", "c1", GRANTS) == (
        instance_id_for("m1", "cpn_a", key, 0), instance_id_for("m1", "cpn_a", key, 1),
        instance_id_for("m1", "cpn_b", key, 0))
    assert decode_grants(encode_grants(GRANTS)) == GRANTS and decode_grants(None) == ()


@given(st.integers(-10**9, 10**9))
def test_base36_round_trips(n):
    assert from_base36(base36(n)) == n


ENTRIES = st.builds(
    Entry, st.sampled_from(list(Outcome)), st.none() | st.text(min_size=1, max_size=REASON_MAX).filter(
        lambda t: "|" not in t), st.sampled_from([(), ("ci_x", "ci_y")]),
    st.none() | st.integers(-3600, 10**7).map(lambda s: to_iso(datetime.fromtimestamp(BASE + s, UTC))),
    st.booleans())


@given(ENTRIES, st.booleans())
def test_an_entry_round_trips_and_stays_short_when_its_coupons_are_derived(entry, derivable):
    derived = entry.instances if derivable else ("ci_other",)
    text = encode_entry(entry, BASE, derived)
    assert decode_entry(text, BASE, derived if "i" in text.split("|")[0] else ()) == entry
    if derivable or not entry.instances:
        assert len(dumps({"zz": text}).encode()) <= ENTRY_BYTES_MAX


def test_the_ledger_is_keyed_by_position_and_decodes_to_the_same_entries():
    recipients = [Recipient(f"c{i}") for i in range(40)]
    stamp = to_iso(datetime.fromtimestamp(BASE + 75, UTC))
    ledger = {"c0": Entry(Outcome.SUCCEEDED, None, derived_instances("m1", "run_1", "c0", GRANTS), stamp, True),
              "c39": Entry(Outcome.SUPPRESSED, "cap_daily", (), stamp),
              "gone": Entry(Outcome.FAILED, "x", ("ci_manual",), stamp)}
    stored = encode_ledger("m1", "run_1", recipients, ledger, BASE, GRANTS)
    assert stored == {"0": "Sti|23", "13": "s|23|cap_daily", "=gone": "f|23|x|ci_manual"}
    assert decode_ledger("m1", "run_1", recipients, stored, BASE, GRANTS) == ledger


def test_a_recipient_with_only_an_id_is_stored_as_the_id():
    assert encode_recipient(Recipient("c1")) == "c1"
    assert encode_recipient(Recipient("c1", nickname="小明")) == {"c": "c1", "n": "小明"}
    assert recipient_bytes(Recipient("c1", nickname="小明")) == len('{"c":"c1","n":"小明"}'.encode()) + 1


def _longest(i: int) -> Recipient:
    """A recipient with every field at its longest the customer API accepts."""
    return Recipient(f"{i:06d}".ljust(64, "x"), nickname="長" * 32, phone="+" + "9" * 15,
                     email="e" * 240 + "@example.org", staff_owner="s" * 64,
                     consent=frozenset({"wallet", "inbox", "sms", "email", "webhook", "staff_task"}),
                     risk_flagged=True, held_out=True, over_cap=True, resolve=True)


def test_a_chunk_of_the_longest_profiles_with_the_most_coupons_stays_far_below_400_kb():
    grants = (("cpn_" + "a" * 60, max_coupon_units(1)),)
    recipients = [_longest(i) for i in range(CHUNK_MAX * 3)]
    chunks = split(recipients, 0, CHUNK_MAX, None)
    assert len(chunks) > 3  # packed by bytes, not by count
    for members, _ in chunks:
        ledger = {r.customer_id: Entry(Outcome.FAILED, "r" * 500, derived_instances("m" * 40, "run_x", r.customer_id,
                                                                                   grants), to_iso(datetime.now(UTC)))
                  for r in members}
        item = {"pk": "m" * 40 + "#RUN#run_" + "f" * 20, "sk": "CHUNK#0000001", "recipients": dumps(
            [encode_recipient(r) for r in members]), "ledger": dumps(encode_ledger(
                "m" * 40, "run_x", members, ledger, BASE, grants)), "grants": encode_grants(grants),
                "last_error": "e" * 500, "owner": "w" * 20, "lease_until": "2026-11-23T02:00:00Z", "status": "ready"}
        assert sum(recipient_bytes(r) for r in members) <= CHUNK_BYTES
        assert item_size(item) < 64 * 1024 < ITEM_LIMIT
