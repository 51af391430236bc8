"""The chunk item's compact form: recipients, the ledger keyed by position, coupon ids derived, sized in bytes.

Every delivery transaction rewrites its chunk's ledger, and DynamoDB bills a write by the whole item's size, so
the item holds only what the delivery needs: a recipient with nothing but an id is stored as the id; a ledger entry
is one string `<code><flags>|<seconds since the chunk's base>|<reason>` keyed by the recipient's position, and its
coupon instance ids are not stored when they are the ones derived from the delivery key (flag `i`: every coupon of
the campaign's grants, `coupons.issue.instance_id_for`), which bounds an entry whatever the coupons per recipient.
`recipient_bytes` / `ENTRY_BYTES_MAX` let the plan pack chunks by bytes so that no chunk item nears 400 KB.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from chalicelib.core.clock import to_iso
from chalicelib.coupons.issue import instance_id_for
from chalicelib.dispatch.model import Entry, Outcome, Recipient, delivery_key

Grants = tuple[tuple[str, int], ...]  # (coupon template, units per recipient), in the campaign's order
CODES = {Outcome.HELD_OUT: "h", Outcome.SUPPRESSED: "s", Outcome.DEFERRED: "d", Outcome.HANDING: "H",
         Outcome.RETRY: "r", Outcome.SUCCEEDED: "S", Outcome.FAILED: "f", Outcome.CANCELLED: "c"}
OUTCOMES = {code: outcome for outcome, code in CODES.items()}
REASON_MAX = 120  # reasons are codes, instants or short `code: detail` texts; longer ones are cut here
# The longest entry: code, 2 flags, a signed base-36 offset, a reason, separators, its key and JSON quoting.
ENTRY_BYTES_MAX = 3 + 9 + REASON_MAX + 2 + 8 + 6
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def dumps(value: Any) -> str:
    """JSON as DynamoDB should store it: no padding, UTF-8 as is (3 bytes a Chinese character, not 6)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def base36(n: int) -> str:
    sign, n = ("-", -n) if n < 0 else ("", n)
    out = ""
    while True:
        n, d = divmod(n, 36)
        out = _DIGITS[d] + out
        if not n:
            return sign + out


def from_base36(text: str) -> int:
    return -int(text[1:], 36) if text.startswith("-") else int(text, 36)


def grants_of(coupons: Iterable[Any]) -> Grants:
    """The campaign's coupon grants (objects with coupon_id and quantity) as stored on the chunk."""
    return tuple((str(g.coupon_id), int(g.quantity)) for g in coupons)


def encode_grants(grants: Grants) -> str:
    return ";".join(f"{c}*{q}" for c, q in grants)


def decode_grants(text: str | None) -> Grants:
    out = []
    for part in (text or "").split(";"):
        if part:
            coupon, _, quantity = part.rpartition("*")
            out.append((coupon, int(quantity)))
    return tuple(out)


def derived_instances(merchant_id: str, run_id: str, customer_id: str, grants: Grants) -> tuple[str, ...]:
    """The instance ids a delivery of every grant issues (dispatch.coupon_ops issues exactly these)."""
    key = delivery_key(run_id, customer_id)
    return tuple(instance_id_for(merchant_id, coupon, key, i) for coupon, quantity in grants for i in range(quantity))


def encode_recipient(r: Recipient) -> Any:
    doc = r.to_doc()
    return r.customer_id if doc == {"c": r.customer_id} else doc


def decode_recipient(doc: Any) -> Recipient:
    return Recipient(doc) if isinstance(doc, str) else Recipient.from_doc(doc)


def recipient_bytes(r: Recipient) -> int:
    """Bytes the recipient adds to its chunk item's recipient list (its JSON and a separator)."""
    return len(dumps(encode_recipient(r)).encode()) + 1


def encode_entry(entry: Entry, base: int, derived: tuple[str, ...]) -> str:
    flags = ("t" if entry.reach_written else "") + ("i" if entry.instances and entry.instances == derived else "")
    at = base36(int(datetime.fromisoformat(entry.at.replace("Z", "+00:00")).timestamp()) - base) if entry.at else ""
    parts = [CODES[entry.outcome] + flags, at, (entry.reason or "")[:REASON_MAX]]
    if entry.instances and entry.instances != derived:  # not derivable (issued otherwise): kept as they are
        parts.append(",".join(entry.instances))
    return "|".join(parts).rstrip("|")


def decode_entry(text: str, base: int, derived: tuple[str, ...]) -> Entry:
    parts = text.split("|")
    head, at, reason = parts[0], parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else ""
    flags = head[1:]
    instances = derived if "i" in flags else tuple(c for c in (parts[3] if len(parts) > 3 else "").split(",") if c)
    stamp = to_iso(datetime.fromtimestamp(base + from_base36(at), UTC)) if at else None
    return Entry(OUTCOMES[head[0]], reason or None, instances, stamp, "t" in flags)


def encode_ledger(merchant_id: str, run_id: str, recipients: Sequence[Recipient], ledger: Mapping[str, Entry],
                  base: int, grants: Grants) -> dict[str, str]:
    """Entries keyed by their recipient's position (base 36); one without a recipient by `=customer`."""
    positions = {r.customer_id: i for i, r in enumerate(recipients)}
    out = {}
    for customer, entry in ledger.items():
        i = positions.get(customer)
        key = base36(i) if i is not None else f"={customer}"
        out[key] = encode_entry(entry, base, derived_instances(merchant_id, run_id, customer, grants)
                                if entry.instances else ())
    return out


def decode_ledger(merchant_id: str, run_id: str, recipients: Sequence[Recipient], stored: Mapping[str, str],
                  base: int, grants: Grants) -> dict[str, Entry]:
    out = {}
    for key, text in stored.items():
        customer = key[1:] if key.startswith("=") else recipients[from_base36(key)].customer_id
        needs = "i" in text.split("|", 1)[0]
        out[customer] = decode_entry(text, base, derived_instances(merchant_id, run_id, customer, grants)
                                     if needs else ())
    return out
