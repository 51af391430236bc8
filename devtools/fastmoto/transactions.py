"""moto's TransactWriteItems, atomic without deep-copying every table it touches (O(table) per transaction).

Stock moto copies each table before the transaction and puts the copies back when an item fails. This is stock
moto's loop, line for line (same checks in the same order, same exceptions, same CancellationReasons), with an
undo journal instead: before an item is written its old version (or its absence) and the table's stream length
are recorded, and any failure puts exactly those back. A condition failure, a validation error raised while
writing (bad update expression, item over 400 KB, a key of the wrong type, ADD to a non-number), a duplicate
item or an item naming two operations all leave every table and stream as they were, as on DynamoDB.
"""

from __future__ import annotations

import copy
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

Reason = tuple[str, str, dict[str, Any] | None] | tuple[None, None, None]


class Journal:
    """What one transaction changed, newest last, so that `rollback` can restore it."""

    def __init__(self) -> None:
        self.items: list[tuple[Table, DynamoType, DynamoType | None, Item | None]] = []
        self.streams: dict[int, tuple[Table, int]] = {}

    def remember(self, table: Table, key: dict[str, Any]) -> None:
        """Before a write: the item at `key` as it is now. The caller read this key already, so it is valid."""
        if table.stream_shard is not None and id(table) not in self.streams:
            self.streams[id(table)] = (table, len(table.stream_shard.items))
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        old = table.get_item(hash_value, range_value)
        # update_item changes the stored Item in place, so keep a copy, not the object.
        self.items.append((table, hash_value, range_value, copy.deepcopy(old)))

    def rollback(self) -> None:
        for table, hash_value, range_value, old in reversed(self.items):
            if range_value is None:
                if old is None:
                    table.items.pop(hash_value, None)
                else:
                    table.items[hash_value] = old  # type: ignore[assignment]
            elif old is None:
                table.items.get(hash_value, {}).pop(range_value, None)
            else:
                table.items[hash_value][range_value] = old
        for table, length in self.streams.values():
            if table.stream_shard is not None:
                del table.stream_shard.items[length:]
        self.items.clear()
        self.streams.clear()


def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto.dynamodb.models.DynamoDBBackend.transact_write_items (moto 5.2.5) with a journal for the rollback."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    journal = Journal()
    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: list[Reason] = []
    for item in transact_items:
        original_item: dict[str, Any] | None = None
        if len(list(item.keys())) > 1:
            journal.rollback()  # stock moto raises here leaving earlier items written; DynamoDB writes nothing
            raise TransactWriteSingleOpException
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            names = op.get("ExpressionAttributeNames")
            values = op.get("ExpressionAttributeValues")
            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            check_unicity(table_name, key)
            current = self.get_item(table_name, key)
            if condition_expression is not None:
                condition_op = get_filter_expression(condition_expression, names, values)
                if not condition_op.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)
            if op_type != "ConditionCheck":
                journal.remember(self.get_table(table_name), key)
            if op_type == "Put":
                self.put_item(table_name, op["Item"], condition_expression=condition_expression,
                              expression_attribute_names=names, expression_attribute_values=values)
            elif op_type == "Delete":
                self.delete_item(table_name, key, condition_expression=condition_expression,
                                 expression_attribute_names=names, expression_attribute_values=values)
            elif op_type == "Update":
                self.update_item(table_name, key, update_expression=op["UpdateExpression"],
                                 condition_expression=condition_expression, expression_attribute_names=names,
                                 expression_attribute_values=values)
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            journal.rollback()
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))
        except Exception as e:  # stock moto reports any other failure as a cancellation reason named after it
            errors.append((type(e).__name__, str(e), original_item))
    if any(code is not None for code, _, _ in errors):
        journal.rollback()
        raise TransactionCanceledException(errors)
