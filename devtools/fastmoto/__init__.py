"""moto speed patches with stock moto's answers: an atomic TransactWriteItems without table copies, a cheap sort.

Every moto world we run (the test session, the benches, the demo, `make serve`) installs both, so they all share
one set of semantics; tests/integration/test_fastmoto_differential.py runs the same requests on stock and patched
moto and compares answers, errors and tables item for item. They patch moto only: product code is untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

from devtools.fastmoto import sorting, transactions

STOCK_TRANSACT_WRITE_ITEMS = DynamoDBBackend.transact_write_items
STOCK_ALL_ITEMS = Table.all_items

_installs = 0  # nested install/uninstall pairs: stock moto comes back when the outermost pair ends


def install() -> None:
    """Patch moto's classes (in-process, so a ThreadedMotoServer started in this process serves them too)."""
    global _installs
    _installs += 1
    DynamoDBBackend.transact_write_items = transactions.transact_write_items  # type: ignore[method-assign]
    Table.all_items = sorting.all_items  # type: ignore[method-assign]


def uninstall() -> None:
    global _installs
    _installs = max(0, _installs - 1)
    if _installs == 0:
        DynamoDBBackend.transact_write_items = STOCK_TRANSACT_WRITE_ITEMS  # type: ignore[method-assign]
        Table.all_items = STOCK_ALL_ITEMS  # type: ignore[method-assign]


@contextmanager
def patched() -> Iterator[None]:
    install()
    try:
        yield
    finally:
        uninstall()
