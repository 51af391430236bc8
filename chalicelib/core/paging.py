"""Opaque list cursors: base64 of the store's resume key, checked against the caller's merchant."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from chalicelib.core.errors import Invalid

# Every table and index key is a string attribute named pk / sk or gsiNpk / gsiNsk (core.resources).
KEY_NAME = re.compile(r"^(pk|sk|gsi[0-9]pk|gsi[0-9]sk)$")


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    """Cursor text for a store resume key (None at the end of the list)."""
    if not last_key:
        return None
    raw = json.dumps(last_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, merchant_id: str, *, store_key: bool = True) -> dict[str, Any] | None:
    """Resume key from a cursor; a cursor of another merchant or garbage is a 400.

    With `store_key` (every list but those with cursors of their own format) the value must also have the shape
    of a DynamoDB key, so that an edited cursor is refused here rather than crashing the query (500).
    """
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid("cursor is not one this API issued", field="query.cursor") from exc
    if not isinstance(value, dict) or not _belongs_to(value, merchant_id) or (store_key and not _is_key(value)):
        raise Invalid("cursor is not one this API issued", field="query.cursor")
    return value


def _is_key(key: dict[str, Any]) -> bool:
    """pk, sk and at most one index's pk/sk pair, each {"S": non-empty string}, as DynamoDB returns a last key."""
    names = set(key)
    if not {"pk", "sk"} <= names or not all(KEY_NAME.match(name) for name in names):
        return False
    indexes = {name[:-2] for name in names - {"pk", "sk"}}
    if len(indexes) > 1 or any({f"{index}pk", f"{index}sk"} - names for index in indexes):
        return False
    return all(isinstance(v, dict) and list(v) == ["S"] and isinstance(v["S"], str) and v["S"] for v in key.values())


def _belongs_to(key: dict[str, Any], merchant_id: str) -> bool:
    """Every key attribute that is a partition key starts with the merchant."""
    pks = [v for k, v in key.items() if k.endswith("pk")]
    if not pks:
        return False
    for value in pks:
        text = value.get("S") if isinstance(value, dict) else value
        if not isinstance(text, str) or not (text == merchant_id or text.startswith(merchant_id + "#")):
            return False
    return True
