"""Pure: what settled deliveries add to a campaign's counters, and the compact rows of its recipient index.

Counter attributes are named here once: `tg` targeted, `rc` reached, `ho` held out, `f_<reason>` failed,
`s_<reason>` suppressed, `n_<reason>` not sent for good (cancelled), `ci` coupons issued, `cc` claimed, `cl`
claimers, `rd` redeemed, `x_<yyyymmdd>` coupons whose deadline (claim deadline, or validity end once claimed)
is 00:00 local of that day — every deadline is a local midnight (coupons.terms), so "expired" is exact by day.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from chalicelib.reports.model import DeliveryStatus

REACHED, HELD_OUT, ISSUED, CLAIMED, CLAIMERS, REDEEMED, TARGETED = "rc", "ho", "ci", "cc", "cl", "rd", "tg"
PREFIX = {DeliveryStatus.FAILED: "f_", DeliveryStatus.SUPPRESSED: "s_", DeliveryStatus.NOT_SENT: "n_"}
EXPIRY = "x_"
# Distinct customers with attributed orders, by arm: ordered / paid (treated), ordered / paid (control).
ORDERED_T, PAID_T, ORDERED_C, PAID_C = "ot", "pt", "oc", "pc"
OUTCOME_STATUS = {"succeeded": DeliveryStatus.REACHED, "held_out": DeliveryStatus.HELD_OUT,
                  "suppressed": DeliveryStatus.SUPPRESSED, "failed": DeliveryStatus.FAILED,
                  "cancelled": DeliveryStatus.NOT_SENT}
REASON_MAX = 60
_UNSAFE = re.compile(r"[^a-z0-9_]+")


def reason_key(reason: str | None) -> str:
    """A reason code as part of an attribute name: the code before any `: detail`, lower snake case."""
    code = (reason or "unknown").split(":", 1)[0].strip().lower()
    return _UNSAFE.sub("_", code)[:REASON_MAX].strip("_") or "unknown"


def expiry_key(day: date) -> str:
    return f"{EXPIRY}{day.strftime('%Y%m%d')}"


def expiry_day(name: str) -> date | None:
    if not name.startswith(EXPIRY) or len(name) != len(EXPIRY) + 8:
        return None
    digits = name[len(EXPIRY):]
    return date(int(digits[:4]), int(digits[4:6]), int(digits[6:])) if digits.isdigit() else None


@dataclass(frozen=True)
class Settled:
    """One final delivery as reports count and list it."""

    customer_id: str
    status: DeliveryStatus
    reason: str | None
    at: int | None  # epoch seconds
    coupons: int  # instances issued to the recipient
    derived: bool  # the instances are the ones derived from the delivery key (not stored in the index)
    instances: tuple[str, ...] = ()


def status_of(outcome: str, reason: str | None) -> tuple[DeliveryStatus, str | None]:
    """A final ledger outcome as the report shows it (reached and held out carry no reason)."""
    status = OUTCOME_STATUS.get(outcome, DeliveryStatus.NOT_SENT)
    if status in (DeliveryStatus.REACHED, DeliveryStatus.HELD_OUT):
        return status, None
    return status, reason or outcome


def deltas(rows: Iterable[Settled], direct: bool) -> Counter[str]:
    """Counter increments of settled deliveries (coupons to the wallet are claimed on issue)."""
    out: Counter[str] = Counter()
    for row in rows:
        if row.status is DeliveryStatus.REACHED:
            out[REACHED] += 1
        elif row.status is DeliveryStatus.HELD_OUT:
            out[HELD_OUT] += 1
        else:
            out[PREFIX[row.status] + reason_key(row.reason)] += 1
        if row.coupons:
            out[ISSUED] += row.coupons
            if direct:
                out[CLAIMED] += row.coupons
                out[CLAIMERS] += 1
    return out


@dataclass(frozen=True)
class Figures:
    """A campaign's counters summed (over shards and days)."""

    values: Mapping[str, int]

    def get(self, name: str) -> int:
        return int(self.values.get(name, 0))

    def reasons(self, status: DeliveryStatus) -> dict[str, int]:
        prefix = PREFIX[status]
        return {k[len(prefix):]: int(v) for k, v in sorted(self.values.items()) if k.startswith(prefix) and v}

    @property
    def settled(self) -> int:
        return self.get(REACHED) + self.get(HELD_OUT) + sum(
            v for k, v in self.values.items() if k[:2] in ("f_", "s_", "n_"))

    def expired(self, today: date, low: date | None = None, high: date | None = None) -> int:
        """Coupons whose deadline day is today or earlier (and within [low, high] when given)."""
        total = 0
        for name, value in self.values.items():
            day = expiry_day(name)
            if day is not None and day <= today and (low is None or day >= low) and (high is None or day <= high):
                total += int(value)
        return total


def summed(items: Iterable[Mapping[str, Any]]) -> Figures:
    """Counter attributes of several items added up (other attributes ignored)."""
    out: Counter[str] = Counter()
    for item in items:
        for name, value in item.items():
            if isinstance(value, int) and _is_counter(name):
                out[name] += value
    return Figures(dict(out))


def _is_counter(name: str) -> bool:
    return name in (TARGETED, REACHED, HELD_OUT, ISSUED, CLAIMED, CLAIMERS, REDEEMED, ORDERED_T, PAID_T, ORDERED_C,
                    PAID_C) or name[:2] in ("f_", "s_", "n_", EXPIRY)


def encode_rows(rows: Sequence[Settled]) -> str:
    """The index item's rows: [customer, reason, at, coupons] with coupons 0 (none), 1 (derived) or the ids."""
    out: list[list[Any]] = []
    for r in rows:
        coupons: Any = (1 if r.derived else list(r.instances)) if r.coupons else 0
        out.append([r.customer_id, r.reason, r.at, coupons])
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False)


def decode_rows(text: str, status: DeliveryStatus, units: int) -> list[Settled]:
    """Inverse of encode_rows; `units` is the coupons per recipient of the run (for derived instances)."""
    out = []
    for cid, reason, at, coupons in json.loads(text or "[]"):
        ids = tuple(coupons) if isinstance(coupons, list) else ()
        derived = coupons == 1
        out.append(Settled(str(cid), status, reason, None if at is None else int(at), units if derived else len(ids),
                           derived, ids))
    return out
