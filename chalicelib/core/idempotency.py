"""Idempotent creates: an Idempotency-Key deterministically fixes the new item's id."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from chalicelib.core.ids import new_id


def derive_id(prefix: str, merchant_id: str, scope: str, key: str | None) -> str:
    """A fresh id, or with a key the same id for every retry of the same create."""
    if key is None:
        return new_id(prefix)
    digest = hashlib.sha256(f"{merchant_id}\x00{scope}\x00{key}".encode()).digest()
    return prefix + "_" + base64.b32encode(digest).decode().lower()[:16]


def fingerprint(payload: Any) -> str:
    """Stable hash of a request body, to tell a retry from a different request with the same key."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]
