"""The stored shape of one customer as stores hand it to services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CustomerRow:
    """Profile and activity documents of one customer (either may be absent)."""

    customer_id: str
    profile: dict[str, Any] | None
    activity: dict[str, Any] | None
    activity_rev: int = 0
    activity_parts: int = 0  # part items beside a compressed activity (customers.activity_parts)
