"""The reach log: per-customer recent reaches on the contact item (dispatch table), written with the delivery.

The reaches share the item with the customer's guardrail counters (dispatch.model.contact_key): a wallet
delivery's cap update carries the reach too (`reach_actions`), so reaching a customer costs no extra write.
Reaches decided without that update (held-out customers, channel sends once handed over) are recorded here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.models import Model

from chalicelib.core.clock import parse_iso, to_iso
from chalicelib.core.dynamo import commit, table_meta
from chalicelib.core.tx import TX_MAX_ITEMS, TxOp
from chalicelib.dispatch.model import CONTACT_TTL_DAYS, contact_key
from chalicelib.dispatch.reaches import MAX_WINDOW_DAYS, Reach

SLOTS = 8  # a ring of set attributes s0..s7, one per epoch
EPOCH_DAYS = 16  # 8 epochs = 128 days: the 90-day window plus room for orders ingested late


class ReachItem(Model):
    """The contact item seen from reports: each slot is a string set of encoded reaches of one epoch."""

    Meta = table_meta("dispatch")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    s0 = UnicodeSetAttribute(null=True)
    s1 = UnicodeSetAttribute(null=True)
    s2 = UnicodeSetAttribute(null=True)
    s3 = UnicodeSetAttribute(null=True)
    s4 = UnicodeSetAttribute(null=True)
    s5 = UnicodeSetAttribute(null=True)
    s6 = UnicodeSetAttribute(null=True)
    s7 = UnicodeSetAttribute(null=True)
    expires_at = NumberAttribute(null=True)


def reach_key(merchant_id: str, customer_id: str) -> tuple[str, str]:
    return contact_key(merchant_id, customer_id)


def epoch_of(at: datetime) -> int:
    return int(at.timestamp() // (EPOCH_DAYS * 86400))


def encode(reach: Reach) -> str:
    """`campaign|run|at|held_out|window|coupon,coupon` (ids never hold `|` or `,`)."""
    return "|".join((reach.campaign_id, reach.run_id, to_iso(reach.at), "1" if reach.held_out else "0",
                     str(reach.window_days), ",".join(reach.coupon_instance_ids)))


def decode(customer_id: str, text: str) -> Reach | None:
    parts = text.split("|")
    if len(parts) != 6:
        return None
    try:
        return Reach(customer_id, parts[0], parts[1], parse_iso(parts[2]), parts[3] == "1",
                     tuple(c for c in parts[5].split(",") if c), int(parts[4]))
    except ValueError:
        return None


def _check(reach: Reach) -> None:
    if not 1 <= reach.window_days <= MAX_WINDOW_DAYS:
        raise ValueError(f"window_days must be 1..{MAX_WINDOW_DAYS}, got {reach.window_days}")
    if reach.at.tzinfo is None:
        raise ValueError("Reach.at must be an aware datetime")


def reach_actions(reaches: Sequence[Reach], now: datetime | None = None, *, ttl: bool = True) -> list[Any]:
    """ADD each reach to its epoch's slot (a set: a redelivered chunk adds nothing), REMOVE the expired slot.

    The expired slot is the one after the current epoch's: with `now` given it is judged from now, so a late
    or repeated recording of an old reach (a redelivered chunk, a deferred one) can never clear a slot that
    newer reaches already fill; without it, from the reaches themselves. `ttl=False` leaves the item's expiry
    to the update these actions join (the guard update sets it: one path may be set only once).
    """
    for reach in reaches:
        _check(reach)
    by_slot: dict[int, set[str]] = {}
    epochs = set()
    for reach in reaches:
        epoch = epoch_of(reach.at)
        epochs.add(epoch)
        by_slot.setdefault(epoch % SLOTS, set()).add(encode(reach))
    current = {epoch_of(now)} if now is not None else epochs
    stale = {(e + 1) % SLOTS for e in current} - set(by_slot)
    actions: list[Any] = [getattr(ReachItem, f"s{slot}").add(values) for slot, values in sorted(by_slot.items())]
    actions += [getattr(ReachItem, f"s{slot}").remove() for slot in sorted(stale)]
    if ttl:
        latest = max([r.at for r in reaches] + ([now] if now is not None else []))
        actions.append(ReachItem.expires_at.set(int(latest.timestamp()) + CONTACT_TTL_DAYS * 86400))
    return actions


class ReachLog:
    """Records reaches per customer and reads them back for a whole stream batch."""

    def reach_update(self, merchant_id: str, reach: Reach, now: datetime) -> tuple[str, str, str, list[Any]]:
        """(table, pk, sk, actions) that record `reach` when joined to another update of the contact item."""
        pk, sk = reach_key(merchant_id, reach.customer_id)
        return ReachItem.Meta.table_name, pk, sk, reach_actions([reach], now, ttl=False)

    def record_reaches(self, merchant_id: str, reaches: Iterable[Reach], now: datetime | None = None) -> None:
        """Append reaches to their customers' reach log: one TransactWriteItems per 100 customers.

        Idempotent: a redelivered chunk ADDs the same set members again (reaches built from the stored ledger
        encode identically), and with `now` the expired-slot clean-up cannot touch newer reaches. Record only
        final outcomes: a succeeded reach (`held_out=False`) or a holdout decision (`held_out=True`).
        """
        by_customer: dict[str, list[Reach]] = {}
        for reach in reaches:
            _check(reach)  # all of them before anything is written
            by_customer.setdefault(reach.customer_id, []).append(reach)
        customers = sorted(by_customer)
        for start in range(0, len(customers), TX_MAX_ITEMS):
            group = customers[start:start + TX_MAX_ITEMS]
            # An update without a condition: commit's conflict retries are its only cancellation (another chunk
            # writing one of these customers at the same moment).
            commit([TxOp("update", ReachItem(*reach_key(merchant_id, c)), f"reach:{c}", None,
                         reach_actions(by_customer[c], now)) for c in group])

    def get_many(self, merchant_id: str, customer_ids: Iterable[str]) -> dict[str, list[Reach]]:
        """Every customer's recorded reaches (BatchGetItem, 100 keys a request); customers without any are absent."""
        ids = sorted(set(customer_ids))
        if not ids:
            return {}
        prefix = reach_key(merchant_id, "")[0]
        found: dict[str, list[Reach]] = {}
        for item in ReachItem.batch_get([reach_key(merchant_id, c) for c in ids], consistent_read=True):
            customer_id = item.pk[len(prefix):]
            reaches = []
            for slot in range(SLOTS):
                for text in getattr(item, f"s{slot}") or ():
                    reach = decode(customer_id, text)
                    if reach is not None:
                        reaches.append(reach)
            if reaches:  # a contact item may hold guardrail counters only
                found[customer_id] = sorted(reaches, key=lambda r: (r.at, r.campaign_id, r.run_id))
        return found
