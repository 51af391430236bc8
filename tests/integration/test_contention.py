"""devtools.contention: DynamoDB's transaction conflicts on moto, and stock moto's answers when nothing overlaps."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import moto
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

from devtools import fastmoto
from devtools.contention import Contention
from tests.support import dynamo_cases as cases
from tests.support import dynamo_script as script

Recording = list[tuple[str, Any, Any]]


def recorded(layer: Contention | None) -> Recording:
    with moto.mock_aws(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(DynamoDBBackend, "transact_write_items", fastmoto.STOCK_TRANSACT_WRITE_ITEMS)
        patch.setattr(Table, "all_items", fastmoto.STOCK_ALL_ITEMS)
        if layer is None:
            return script.record()
        with layer.installed():
            return script.record()


def test_contention_answers_and_stores_exactly_what_stock_moto_does_when_nothing_overlaps():
    stock = recorded(None)
    layer = Contention(hold=0.001)
    emulated = recorded(layer)
    assert [label for label, _, _ in stock] == [label for label, _, _ in emulated]
    for (label, answer, tables), (_, other, other_tables) in zip(stock, emulated, strict=True):
        assert answer == other, label
        assert tables == other_tables, label
    assert layer.stats.total == 0 and layer.stats.transactions > 30
    by_label = {label: answer for label, answer, _ in stock}
    assert by_label["update_item"]["ok"]["Attributes"]["hits"] == {"N": "3"}
    assert by_label["update_item condition failure"]["error"]["Code"] == "ConditionalCheckFailedException"
    assert len(by_label["transact_get_items"]["ok"]["Responses"]) == 3


def test_the_comparison_notices_a_layer_that_cancels_transactions_nobody_contends_for(monkeypatch):
    monkeypatch.setattr(Contention, "_take", lambda self, keys: (0, [False] * (len(keys) - 1) + [True]))
    stock, emulated = recorded(None), recorded(Contention())
    changed = [label for (label, answer, _), (_, other, _) in zip(stock, emulated, strict=True) if answer != other]
    assert "success of every operation" in changed and "100 items" in changed


@pytest.fixture
def world() -> Iterator[Any]:
    """A table of the differential script in its own region, under the session's moto world."""
    with moto.mock_aws():
        client = boto3.client("dynamodb", region_name=script.REGION,
                              config=Config(parameter_validation=False, retries={"max_attempts": 1}))
        client.create_table(BillingMode="PAY_PER_REQUEST", **script.TABLES[0])
        try:
            yield client
        finally:  # a nested moto world keeps the session's state: the next test (or the script) creates it again
            client.delete_table(TableName=script.TABLES[0]["TableName"])


def _code(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


def test_a_transaction_naming_a_held_item_is_cancelled_and_writes_nothing(world):
    held = cases.order_key("held", "1")
    with Contention().installed() as layer, layer.holding(cases.ORDERS, held):
        with pytest.raises(ClientError) as raised:
            world.transact_write_items(TransactItems=[
                cases.order_put("other", "1"), {"Update": {"TableName": cases.ORDERS, "Key": held,
                                                           "UpdateExpression": "SET v = :v",
                                                           "ExpressionAttributeValues": {":v": {"N": "1"}}}}])
        assert _code(raised.value) == "TransactionCanceledException"
        assert [r["Code"] for r in raised.value.response["CancellationReasons"]] == ["None", "TransactionConflict"]
        assert "Item" not in world.get_item(TableName=cases.ORDERS, Key=cases.order_key("other", "1"))
        assert layer.stats.conflicts["transact_write_items"] == 1
    world.transact_write_items(TransactItems=[cases.order_put("other", "1")])  # released: it goes through


def test_a_single_write_of_a_held_item_fails_with_transaction_conflict_while_reads_succeed(world):
    held = cases.order_key("held", "2")
    world.put_item(TableName=cases.ORDERS, Item=held | {"v": {"N": "1"}})
    writes: list[tuple[str, dict[str, Any]]] = [
        ("put_item", {"TableName": cases.ORDERS, "Item": held}),
        ("update_item", {"TableName": cases.ORDERS, "Key": held, "UpdateExpression": "SET v = :v",
                         "ExpressionAttributeValues": {":v": {"N": "2"}}}),
        ("delete_item", {"TableName": cases.ORDERS, "Key": held})]
    with Contention().installed() as layer, layer.holding(cases.ORDERS, held):
        for operation, request in writes:
            with pytest.raises(ClientError) as raised:
                getattr(world, operation)(**request)
            assert _code(raised.value) == "TransactionConflictException", operation
            assert raised.value.response["Error"]["Message"] == "Transaction is ongoing for the item"
        with pytest.raises(ClientError) as raised:
            world.transact_get_items(TransactItems=[{"Get": {"TableName": cases.ORDERS, "Key": held}}])
        assert [r["Code"] for r in raised.value.response["CancellationReasons"]] == ["TransactionConflict"]
        assert world.get_item(TableName=cases.ORDERS, Key=held, ConsistentRead=True)["Item"]["v"] == {"N": "1"}
        assert len(world.query(TableName=cases.ORDERS, KeyConditionExpression="pk = :p",
                               ExpressionAttributeValues={":p": {"S": "held"}})["Items"]) == 1
        assert layer.stats.total == 4


def test_two_transactions_in_flight_on_one_item_one_is_cancelled(world):
    shared = cases.order_key("hot", "1")
    layer = Contention(hold=0.5)
    outcomes: dict[str, str] = {}

    def write(name: str) -> None:
        try:
            world.transact_write_items(TransactItems=[
                cases.order_put(name, "1"), {"Update": {"TableName": cases.ORDERS, "Key": shared,
                                                        "UpdateExpression": "ADD n :one",
                                                        "ExpressionAttributeValues": cases.ONE}}])
            outcomes[name] = "ok"
        except ClientError as error:
            outcomes[name] = str([r["Code"] for r in error.response["CancellationReasons"]])

    with layer.installed():
        first = threading.Thread(target=write, args=("first",))
        first.start()
        deadline = time.monotonic() + 30
        while not layer.in_flight() and time.monotonic() < deadline:
            time.sleep(0.005)
        write("second")
        first.join()
    assert outcomes == {"first": "ok", "second": "['None', 'TransactionConflict']"}
    assert world.get_item(TableName=cases.ORDERS, Key=shared)["Item"]["n"] == {"N": "1"}
