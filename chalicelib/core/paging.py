"""Opaque list cursors: base64 of the store's resume key, checked against the caller's merchant."""

from __future__ import annotations

import base64
import json
from typing import Any

from chalicelib.core.errors import Invalid


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    """Cursor text for a store resume key (None at the end of the list)."""
    if not last_key:
        return None
    raw = json.dumps(last_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, merchant_id: str) -> dict[str, Any] | None:
    """Resume key from a cursor; a cursor of another merchant or garbage is a 400."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid("cursor is not one this API issued", field="query.cursor") from exc
    if not isinstance(value, dict) or not _belongs_to(value, merchant_id):
        raise Invalid("cursor is not one this API issued", field="query.cursor")
    return value


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
