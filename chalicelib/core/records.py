"""Plain records that cross the store/service boundary."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Record:
    """A stored definition as services see it."""

    merchant_id: str
    kind: str
    id: str
    data: dict[str, Any]
    version: int
    created_at: str
    updated_at: str
    status: str | None = None
    label: str | None = None
    idem_fp: str | None = None


class AlreadyExists(Exception):
    """A create hit an existing id (an idempotent retry, or a true clash)."""

    def __init__(self, existing: Record) -> None:
        super().__init__(existing.id)
        self.existing = existing
