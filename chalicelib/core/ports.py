"""Ports services depend on, so that no service imports PynamoDB or boto3."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from chalicelib.core.records import Record


class Repo(Protocol):
    """A definitions repository for one kind (see core.dynamo.DefinitionRepo)."""

    kind: str

    def get(self, merchant_id: str, item_id: str) -> Record | None: ...

    def require(self, merchant_id: str, item_id: str) -> Record: ...

    def create(self, merchant_id: str, item_id: str, data: dict[str, Any], now: datetime, *,
               status: str | None = None, label: str | None = None, name: str | None = None,
               idem_fp: str | None = None) -> Record: ...

    def update(self, merchant_id: str, item_id: str, data: dict[str, Any], now: datetime, *,
               expected_version: int | None, status: str | None = None, label: str | None = None,
               name: str | None = None) -> Record: ...

    def set_status(self, merchant_id: str, item_id: str, status: str, now: datetime, *,
                   expected_status: tuple[str, ...], data_updates: dict[str, Any] | None = None) -> Record: ...

    def delete(self, merchant_id: str, item_id: str, *, expected_version: int | None = None) -> None: ...

    def list(self, merchant_id: str, *, limit: int = 50, start_key: dict[str, Any] | None = None,
             status: str | None = None, label: str | None = None, where: Callable[[Record], bool] | None = None
             ) -> tuple[list[Record], dict[str, Any] | None]: ...

    def count(self, merchant_id: str) -> int: ...

    def iter_all(self, merchant_id: str) -> builtins.list[Record]: ...
