"""moto answers a table-key Query by sorting EVERY item of the table (then keeping one partition) and serialises
Query, GetItem and BatchGetItem results through its generic shape walker; at 100,000 items that is seconds per
request. Here such a Query sees its own partition only (the same items: stock moto keeps those whose hash key equals
the asked one; its own sort, start-key skipping and 1 MB page cut then run unchanged), and those three results are
dumped with json.dumps (the same JSON; anything json cannot dump goes through moto's serialiser)."""

from __future__ import annotations

import json
import threading
from typing import Any

from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoResult

STOCK_QUERY = Table.query
STOCK_EXECUTE_RESULT = DynamoResult.execute_result
_asked = threading.local()  # the partition a Query on this thread reads (moto's server answers on many threads)
DUMPED = frozenset({"Query", "GetItem", "BatchGetItem"})


def partition(table: Any) -> list[Any] | None:
    """The items of the partition a table-key Query on this thread asks for, or None outside such a Query."""
    if id(getattr(_asked, "table", None)) != id(table):
        return None
    bucket = table.items.get(_asked.hash_key)
    return list(bucket.values()) if bucket else []


def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
    index_name = args[6] if len(args) > 6 else kwargs.get("index_name")
    if index_name or hash_key is None or not self.range_key_attr:
        return STOCK_QUERY(self, hash_key, *args, **kwargs)
    _asked.table, _asked.hash_key = self, hash_key
    try:
        return STOCK_QUERY(self, hash_key, *args, **kwargs)
    finally:
        _asked.table = _asked.hash_key = None


def execute_result(self: Any, context: Any) -> Any:
    if context.operation_model.name in DUMPED:
        try:
            return 200, {"Content-Type": "application/x-amz-json-1.0"}, json.dumps(self.result)
        except TypeError:
            pass
    return STOCK_EXECUTE_RESULT(self, context)
