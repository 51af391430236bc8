"""Identifier generation: short, sortable-enough, URL-safe ids with a type prefix."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_lowercase + string.digits
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"


def new_id(prefix: str, length: int = 16) -> str:
    """`prefix_xxxxxxxxxxxxxxxx` with 16 random base36 characters (~82 bits)."""
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))
