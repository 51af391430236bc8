"""PynamoDB storage of inbox messages: one item per person per local day slot, conditional put."""

from __future__ import annotations

import json
from typing import Any

from pynamodb.exceptions import PutError

from chalicelib.core.dynamo import is_condition_failure
from chalicelib.coupons.store import WalletItem, dumps

INBOX = "INBOX"
RETENTION_SECONDS = 400 * 86400


def day_key(merchant_id: str, customer_id: str, local_day: str, slot: int) -> str:
    """`{merchant}#{customer}#INBOX#{local date}`: the key itself is the daily cap (slot > 1 when allowed)."""
    base = f"{merchant_id}#{customer_id}#INBOX#{local_day}"
    return base if slot == 1 else f"{base}#{slot}"


def inbox_owner(merchant_id: str, customer_id: str) -> str:
    return f"{merchant_id}#INBOX#{customer_id}"


class InboxStore:
    def put_in_slot(self, merchant_id: str, customer_id: str, local_day: str, slot: int,
                    doc: dict[str, Any], now_epoch: int) -> dict[str, Any] | None:
        """Store the message in the day's slot if free: None when stored, else the message already there."""
        item = WalletItem(day_key(merchant_id, customer_id, local_day, slot), INBOX, kind=INBOX, doc=dumps(doc),
                          customer_id=customer_id, gsi1pk=inbox_owner(merchant_id, customer_id),
                          gsi1sk=f"{doc['sent_at']}#{doc['message_id']}", expires_at=now_epoch + RETENTION_SECONDS)
        try:
            item.save(condition=WalletItem.pk.does_not_exist())
        except PutError as exc:
            if not is_condition_failure(exc):
                raise
            existing = WalletItem.get(item.pk, INBOX, consistent_read=True)
            found: dict[str, Any] = json.loads(existing.doc or "{}")
            return found
        return None

    def list(self, merchant_id: str, customer_id: str, limit: int, start_key: dict[str, Any] | None
             ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """A customer's inbox, newest first."""
        results = WalletItem.by_owner.query(inbox_owner(merchant_id, customer_id), scan_index_forward=False,
                                            limit=limit, last_evaluated_key=start_key)
        docs = [json.loads(item.doc or "{}") for item in results if item.kind == INBOX]
        return docs, results.last_evaluated_key
