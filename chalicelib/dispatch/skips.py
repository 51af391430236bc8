"""Events a triggered campaign skipped (they happened before its activation, beyond its look-back), counted once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.core.dynamo import commit, table_meta
from chalicelib.core.tx import TX_MAX_ITEMS, TxCancelled, TxOp

MARKER_TTL_SECONDS = 400 * 86400  # as long as the touch dedup keys: a replay of the event within it counts nothing
COUNT_SK = "#count"
BEFORE_ACTIVATION = "before_activation"


class SkipItem(Model):
    """pk `{merchant}#SKIP#{campaign}`: one marker per skipped (customer, event), sk `{customer}#{event}`, and the
    count, sk `#count`. In the dispatch table, apart from the due index (no GSI attribute is set)."""

    Meta = table_meta("dispatch")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    skipped = NumberAttribute(null=True)
    expires_at = NumberAttribute(null=True)


def _pk(merchant_id: str, campaign_id: str) -> str:
    return f"{merchant_id}#SKIP#{campaign_id}"


class SkipStore:
    """Each skipped (campaign, customer, event) adds one to the campaign's count, however often it is replayed."""

    def record(self, merchant_id: str, campaign_id: str, keys: Sequence[tuple[str, str]], now: datetime) -> int:
        """Count (customer, event key) pairs not counted before; returns how many were new.

        One transaction per 99 markers (put if absent) and the count's ADD: a redelivered stream batch finds
        its markers and adds nothing; a crash between batches loses nothing (the markers and count move together).
        """
        pk, expires = _pk(merchant_id, campaign_id), int(now.timestamp()) + MARKER_TTL_SECONDS
        fresh = list(dict.fromkeys(f"{customer}#{event}" for customer, event in keys))
        added = 0
        while fresh:
            group, fresh = fresh[:TX_MAX_ITEMS - 1], fresh[TX_MAX_ITEMS - 1:]
            while group:
                ops = [TxOp("save", SkipItem(pk, sk, expires_at=expires), f"skip:{sk}",
                            SkipItem.pk.does_not_exist()) for sk in group]
                ops.append(TxOp("update", SkipItem(pk, COUNT_SK), "count", None, [SkipItem.skipped.add(len(group))]))
                try:
                    commit(ops)
                except TxCancelled as exc:
                    seen = set(exc.tagged("skip:"))
                    if not seen:
                        raise
                    group = [sk for sk in group if sk not in seen]
                    continue
                added += len(group)
                break
        return added

    def count(self, merchant_id: str, campaign_id: str) -> int:
        try:
            item = SkipItem.get(_pk(merchant_id, campaign_id), COUNT_SK)
        except SkipItem.DoesNotExist:
            return 0
        return int(item.skipped or 0)
