"""moto speed patches with stock moto's answers: an atomic TransactWriteItems without table copies, cheap sorts,
partition-only table Queries and a direct JSON dump of read results.

Every moto world we run (the test session, the benches, the demo, `make serve`) installs all of them, so they all
share one set of semantics; tests/integration/test_fastmoto_differential.py runs the same requests on stock and
patched moto and compares answers, errors and tables item for item. They patch moto only: product code is untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoResult

from devtools.fastmoto import queries, sorting, transactions

# (class, attribute, stock moto's function, ours)
PATCHES: list[tuple[type, str, Callable[..., Any], Callable[..., Any]]] = [
    (DynamoDBBackend, "transact_write_items", DynamoDBBackend.transact_write_items, transactions.transact_write_items),
    (Table, "all_items", Table.all_items, sorting.all_items),
    (Table, "query", queries.STOCK_QUERY, queries.query),
    (DynamoResult, "execute_result", queries.STOCK_EXECUTE_RESULT, queries.execute_result),
]
STOCK_TRANSACT_WRITE_ITEMS = DynamoDBBackend.transact_write_items
STOCK_ALL_ITEMS = Table.all_items

_installs = 0  # nested install/uninstall pairs: stock moto comes back when the outermost pair ends


def install() -> None:
    """Patch moto's classes (in-process, so a ThreadedMotoServer started in this process serves them too)."""
    global _installs
    _installs += 1
    for owner, name, _, ours in PATCHES:
        setattr(owner, name, ours)


def uninstall() -> None:
    global _installs
    _installs = max(0, _installs - 1)
    if _installs == 0:
        for owner, name, stock, _ in PATCHES:
            setattr(owner, name, stock)


@contextmanager
def patched() -> Iterator[None]:
    install()
    try:
        yield
    finally:
        uninstall()
