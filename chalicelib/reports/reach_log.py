"""The reach log: per-customer recent reaches on the contact item (dispatch table), a short register per window.

The reaches share the item with the customer's guardrail counters (dispatch.model.contact_key): a wallet
delivery's cap update carries the reach too (`reach_update`), so reaching a customer costs no extra write. Every
delivery rewrites the item and DynamoDB bills the whole item, so it keeps only what last-touch attribution can
still need: for each attribution window length W the campaigns use, the DEPTH latest reaches with that window
(attributes `h{W}a` newest .. `h{W}f`), shifted without a read (DynamoDB evaluates every SET operand against the
item before the update). A reach is never outlived by an earlier one of the same window (it starts later and ends
later), so for any instant the last touch is among them unless DEPTH later reaches with that window were recorded
between the order's payment and its attribution (an order ingested that late). A redeemed coupon names its
campaign through the coupon instance itself, so no coupon ids are kept here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.operand import Path
from pynamodb.models import Model

from chalicelib.core.config import get_config
from chalicelib.core.dynamo import commit, table_meta
from chalicelib.core.tx import TX_MAX_ITEMS, TxCancelled, TxOp
from chalicelib.dispatch.codec import base36, from_base36
from chalicelib.dispatch.model import CONTACT_TTL_DAYS, contact_key
from chalicelib.dispatch.reaches import MAX_WINDOW_DAYS, Reach

DEPTH = 6  # reaches kept per window length
SLOTS = "abcdef"
EMPTY = "-"  # a register slot not filled yet
RECORD_ROUNDS = 3


class ReachItem(Model):
    """The contact item seen from reports; the register slots `h{W}{a..f}` are addressed by Path."""

    Meta = table_meta("dispatch")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    expires_at = NumberAttribute(null=True)


def reach_key(merchant_id: str, customer_id: str) -> tuple[str, str]:
    return contact_key(merchant_id, customer_id)


def slot(window: int, k: int) -> str:
    return f"h{window}{SLOTS[k]}"


def encode(reach: Reach) -> str:
    """`campaign|run|at (epoch seconds, base 36)|held_out|window` (ids never hold `|`)."""
    return "|".join((reach.campaign_id, reach.run_id, base36(int(reach.at.timestamp())),
                     "1" if reach.held_out else "0", str(reach.window_days)))


def decode(customer_id: str, text: str) -> Reach | None:
    parts = text.split("|")
    if len(parts) != 5:
        return None
    try:
        return Reach(customer_id, parts[0], parts[1], datetime.fromtimestamp(from_base36(parts[2]), UTC),
                     parts[3] == "1", (), int(parts[4]))
    except ValueError:
        return None


def _check(reach: Reach) -> None:
    if not 1 <= reach.window_days <= MAX_WINDOW_DAYS:
        raise ValueError(f"window_days must be 1..{MAX_WINDOW_DAYS}, got {reach.window_days}")
    if reach.at.tzinfo is None:
        raise ValueError("Reach.at must be an aware datetime")


def _by_window(reaches: Sequence[Reach]) -> dict[int, list[str]]:
    """Encoded reaches per window, newest first (the newest takes slot a)."""
    out: dict[int, list[str]] = {}
    for reach in sorted(reaches, key=lambda r: (r.at, r.campaign_id, r.run_id), reverse=True):
        _check(reach)
        texts = out.setdefault(reach.window_days, [])
        if encode(reach) not in texts:
            texts.append(encode(reach))
    return out


def reach_actions(reaches: Sequence[Reach], now: datetime | None = None, *, ttl: bool = True) -> list[Any]:
    """Push one customer's reaches into their windows' registers (the oldest fall off the end).

    `ttl=False` leaves the item's expiry to the update these actions join (the guard update sets it: one path may
    be set only once).
    """
    actions: list[Any] = []
    for window, texts in sorted(_by_window(reaches).items()):
        texts = texts[:DEPTH]
        n = len(texts)
        for k in range(DEPTH - 1, n - 1, -1):
            actions.append(Path(slot(window, k)).set(Path(slot(window, k - n)) | EMPTY))
        actions += [Path(slot(window, k)).set(text) for k, text in enumerate(texts)]
    if ttl:
        latest = max([r.at for r in reaches] + ([now] if now is not None else []))
        actions.append(ReachItem.expires_at.set(int(latest.timestamp()) + CONTACT_TTL_DAYS * 86400))
    return actions


def _absent(reaches: Sequence[Reach]) -> Condition | None:
    """None of these reaches is in its register yet (a repeated recording changes nothing)."""
    condition: Condition | None = None
    for window, texts in _by_window(reaches).items():
        for text in texts:
            present: Condition | None = None
            for k in range(DEPTH):
                test = Path(slot(window, k)) == text
                present = test if present is None else present | test
            assert present is not None
            condition = ~present if condition is None else condition & ~present
    return condition


def reaches_in(customer_id: str, item: Mapping[str, Any]) -> list[Reach]:
    """Every reach a raw contact item's registers hold, oldest first."""
    found = []
    for name, value in item.items():
        if name.startswith("h") and name[1:-1].isdigit() and isinstance(value, Mapping) and "S" in value:
            reach = decode(customer_id, str(value["S"]))
            if reach is not None:
                found.append(reach)
    return sorted(set(found), key=lambda r: (r.at, r.campaign_id, r.run_id))


class ReachLog:
    """Records reaches per customer and reads them back for a whole stream batch."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._table = get_config().table("dispatch")

    def reach_update(self, merchant_id: str, reach: Reach, now: datetime) -> tuple[str, str, str, list[Any]]:
        """(table, pk, sk, actions) that record `reach` when joined to another update of the contact item."""
        pk, sk = reach_key(merchant_id, reach.customer_id)
        return ReachItem.Meta.table_name, pk, sk, reach_actions([reach], now, ttl=False)

    def record_reaches(self, merchant_id: str, reaches: Iterable[Reach], now: datetime | None = None) -> None:
        """Append reaches to their customers' reach log: one TransactWriteItems per 100 customers.

        Idempotent: each customer's update is conditioned on its reaches being absent; a customer whose reaches
        are (partly) there already is read back and written again with only the missing ones.
        """
        by_customer: dict[str, list[Reach]] = {}
        for reach in reaches:
            _check(reach)  # all of them before anything is written
            by_customer.setdefault(reach.customer_id, []).append(reach)
        customers = sorted(by_customer)
        for start in range(0, len(customers), TX_MAX_ITEMS):
            self._record(merchant_id, {c: by_customer[c] for c in customers[start:start + TX_MAX_ITEMS]}, now)

    def _record(self, merchant_id: str, pending: dict[str, list[Reach]], now: datetime | None) -> None:
        for _ in range(RECORD_ROUNDS):
            if not pending:
                return
            ops = [TxOp("update", ReachItem(*reach_key(merchant_id, c)), f"reach:{c}", _absent(rs),
                        reach_actions(rs, now)) for c, rs in sorted(pending.items())]
            try:
                commit(ops)
                return
            except TxCancelled as exc:
                # Compared as stored: a register keeps no coupon ids, so a reach carrying some reads back without.
                present = {c: {encode(r) for r in rs}
                           for c, rs in self.get_many(merchant_id, exc.tagged("reach:")).items()}
                pending = {c: [r for r in rs if encode(r) not in present.get(c, set())] for c, rs in pending.items()}
                pending = {c: rs for c, rs in pending.items() if rs}
        if pending:
            raise RuntimeError(f"reaches of {sorted(pending)} kept changing while recorded")

    def get_many(self, merchant_id: str, customer_ids: Iterable[str]) -> dict[str, list[Reach]]:
        """Every customer's recorded reaches (BatchGetItem, 100 keys a request); customers without any are absent."""
        ids = sorted(set(customer_ids))
        prefix = reach_key(merchant_id, "")[0]
        found: dict[str, list[Reach]] = {}
        for start in range(0, len(ids), 100):
            request: dict[str, Any] = {self._table: {"Keys": [
                {"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in (reach_key(merchant_id, c)
                                                                  for c in ids[start:start + 100])],
                "ConsistentRead": True}}
            while request:
                got = self._client.batch_get_item(RequestItems=request)
                for item in got.get("Responses", {}).get(self._table, []):
                    customer_id = str(item["pk"]["S"])[len(prefix):]
                    reaches = reaches_in(customer_id, item)
                    if reaches:  # a contact item may hold guardrail counters only
                        found[customer_id] = reaches
                request = got.get("UnprocessedKeys") or {}
        return found
