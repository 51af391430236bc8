"""devtools.fastmoto against stock moto: one script of transactions, queries and scans (tests/support/dynamo_script.py)
run on both, compared step by step: every response or error (with CancellationReasons) and, after every transaction,
every table's items and stream records. The mutants below prove the comparison notices a non-atomic transaction, a
wrong sort order and a Query that reads part of its partition."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import boto3
import moto
import pytest
from botocore.config import Config
from moto.dynamodb.models import DynamoDBBackend

from devtools import fastmoto
from devtools.fastmoto import queries, transactions
from tests.support import dynamo_cases as cases
from tests.support import dynamo_script as script

Recording = list[tuple[str, Any, Any]]


@pytest.fixture
def moto_world() -> Iterator[None]:
    with moto.mock_aws():  # nested in the session's world when there is one; the script has its own region
        yield


def recorded(stock: bool = False, **instead: Callable[..., Any]) -> Recording:
    """The script on stock moto, or on every fastmoto patch with some replaced (by attribute name)."""
    with moto.mock_aws(), pytest.MonkeyPatch.context() as patch:
        for owner, name, original, ours in fastmoto.PATCHES:
            patch.setattr(owner, name, original if stock else instead.pop(name, ours))
        assert not instead, instead
        return script.record()


def differences(stock: Recording, other: Recording) -> list[str]:
    assert [label for label, _, _ in stock] == [label for label, _, _ in other]
    found = []
    for (label, answer, tables), (_, other_answer, other_tables) in zip(stock, other, strict=True):
        if answer != other_answer:
            found.append(f"{label}: answer {answer} != {other_answer}"[:600])
        if tables != other_tables:
            found.append(f"{label}: tables differ")
    return found


@pytest.fixture(scope="module")
def stock() -> Recording:
    return recorded(stock=True)


def test_patched_moto_answers_and_stores_exactly_what_stock_moto_does(stock):
    patched = recorded()
    assert differences(stock, patched) == []
    by_label = {label: answer for label, answer, _ in stock}
    # The script reaches the cases it is meant to (stock moto's own answers).
    assert "ok" in by_label["success of every operation"] and "ok" in by_label["100 items"]
    assert by_label["later item: put over 400 KB"]["error"]["Code"] == "ValidationException"
    assert by_label["later item: repeated item"]["error"]["Code"] == "ValidationException"
    assert by_label["101 items"]["error"]["Code"] == "ValidationException"
    failed = by_label["condition failure returning the old item"]
    assert failed["error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in failed["reasons"]] == ["None", "None", "ConditionalCheckFailed"]
    assert failed["reasons"][2]["Item"]["pk"] == {"S": "a"}
    pages = by_label[f"query {cases.ORDERS} 'a' forward"]["ok"]
    assert len(pages) > 2 and [i["sk"]["N"] for p in pages for i in p["Items"]] == [
        "-5", "0", "2", "2.5", "10", "100", "1e3"]


def test_the_comparison_catches_a_transaction_patch_that_writes_items_one_by_one(stock, monkeypatch):
    monkeypatch.setattr(transactions.Journal, "rollback", lambda self: None)
    found = differences(stock, recorded())
    for case in ("condition failure", "later item: put over 400 KB", "later item: update over 400 KB on a new item",
                 "later item: key of the wrong type in an update", "100 items with the last one failing"):
        assert f"{case}: tables differ" in found, found


def test_the_comparison_catches_a_sort_that_orders_numbers_as_strings(stock, monkeypatch):
    def as_strings(self: Any) -> list[Any]:
        return sorted(fastmoto.STOCK_ALL_ITEMS(self), key=lambda i: str(i.hash_key.value))

    found = differences(stock, recorded(all_items=as_strings))
    assert any(f.startswith(f"scan {cases.COUNTERS}: answer") for f in found), found


def test_the_comparison_catches_a_query_that_reads_part_of_its_partition(stock, monkeypatch):
    partition = queries.partition
    monkeypatch.setattr(queries, "partition", lambda table: (partition(table) or [None])[1:] or None)
    found = differences(stock, recorded())
    assert f"query {cases.ORDERS} 'a' forward: answer" in " ".join(found), found
    assert not any(f.startswith("scan") for f in found), found


def test_an_item_naming_two_operations_leaves_every_table_as_it_was(moto_world, monkeypatch):
    """Stock moto raises here but keeps the items before it written; DynamoDB and the patch write nothing."""
    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", transactions.transact_write_items)
    client = boto3.client("dynamodb", region_name=script.REGION, config=Config(parameter_validation=False))
    spec = script.TABLES[0]
    client.create_table(BillingMode="PAY_PER_REQUEST", **spec)
    try:
        both = cases.order_put("second", "1") | {"Delete": {"TableName": cases.ORDERS,
                                                            "Key": cases.order_key("a", "1")}}
        items = [cases.order_put("first", "1"), both]
        answer = script.outcome(client, "transact_write_items", {"TransactItems": items})
        assert answer["error"] == {"Code": "ValidationException",
                                   "Message": "TransactItems can only contain one of Check, Put, Update or Delete"}
        assert client.scan(TableName=cases.ORDERS)["Items"] == []
        assert script.snapshot_of(spec["TableName"])["stream"] == []
    finally:
        client.delete_table(TableName=cases.ORDERS)
