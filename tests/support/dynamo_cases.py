"""The transactions and reads of tests/support/dynamo_script.py: the cases where a moto double could drift."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

ORDERS, COUNTERS, BLOBS, NAMES = "fm-orders", "fm-counters", "fm-blobs", "fm-names"
S_KEYS = ["a", "B", "é", "aa", "a b", "z"]  # case, accents, prefixes and spaces sort differently
N_KEYS = ["-5", "0", "2", "2.5", "10", "100", "1e3"]  # as strings "10" < "2"; as numbers not
B_KEYS = [base64.b64encode(b).decode() for b in (b"\x00", b"\x01\x02", b"\xff", b"a", b"ab", b"\x7f\x80")]
BIG = "x" * 410_000  # over DynamoDB's 400 KB item limit


def order_key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"N": sk}}


def order_put(pk: str, sk: str, **extra: Any) -> dict[str, Any]:
    return {"Put": {"TableName": ORDERS, "Item": order_key(pk, sk) | extra}}


def _update(key: dict[str, Any], expression: str, values: dict[str, Any] | None = None, table: str = ORDERS,
            **extra: Any) -> dict[str, Any]:
    op = {"TableName": table, "Key": key, "UpdateExpression": expression, **extra}
    return {"Update": op | ({"ExpressionAttributeValues": values} if values is not None else {})}


ONE = {":one": {"N": "1"}}
COUNTER = {"id": {"N": "10"}}  # a seeded counter
OLD = order_key("a", "10")  # a seeded order with a string attribute s that no successful transaction changes
VALID_FIRST = [order_put("new", "1", note={"S": "first"}), _update(COUNTER, "ADD hits :one", ONE, table=COUNTERS)]

# A later item that fails validation while it is written (after the first two items were).
LATER_FAILURES: dict[str, dict[str, Any]] = {
    "syntax error in update expression": _update(OLD, "SET a = "),
    "ADD to a string": _update(OLD, "ADD s :one", ONE),
    "ADD of a string to a new item": _update(order_key("fresh", "1"), "ADD n :v", {":v": {"S": "x"}}),
    "string plus number": _update(OLD, "SET s = s + :one", ONE),
    "put over 400 KB": order_put("big", "1", x={"S": BIG}),
    "update over 400 KB on a new item": _update(order_key("big", "2"), "SET x = :v", {":v": {"S": BIG}}),
    "update over 400 KB on an old item": _update(OLD, "SET x = :v", {":v": {"S": BIG}}),
    "key of the wrong type in a put": {"Put": {"TableName": ORDERS, "Item": {"pk": {"N": "1"}, "sk": {"N": "1"}}}},
    "key of the wrong type in an update": _update({"pk": {"N": "1"}, "sk": {"N": "1"}}, "SET q = :one", ONE),
    "update of a key attribute": _update(OLD, "SET pk = :v", {":v": {"S": "moved"}}),
    "removal of a key attribute": _update(OLD, "REMOVE sk"),
    "delete without the range key": {"Delete": {"TableName": ORDERS, "Key": {"pk": {"S": "a"}}}},
    "unknown expression value": _update(OLD, "SET q = :nope"),
    "number overflow": order_put("huge", "1", n={"N": "1e200"}),
    "put without the hash key": {"Put": {"TableName": ORDERS, "Item": {"sk": {"N": "1"}}}},
    "put without the range key": {"Put": {"TableName": ORDERS, "Item": {"pk": {"S": "half"}}}},
    "unknown table": {"Put": {"TableName": "fm-nowhere", "Item": order_key("a", "1")}},
    "repeated item": order_put("new", "1"),
}


def _fails(condition: str, values: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return _update(order_key("a", "0"), "SET q = :one", ONE | (values or {}), ConditionExpression=condition, **extra)


def transactions() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    missing = {"TableName": ORDERS, "Key": order_key("nobody", "1")}
    yield "success of every operation", [
        order_put("new", "5", v={"N": "1"}), _update(COUNTER, "ADD hits :one SET label = :l", ONE | {":l": {"S": "x"}},
                                               table=COUNTERS),
        {"Delete": {"TableName": BLOBS, "Key": {"h": {"B": B_KEYS[0]}, "r": {"B": B_KEYS[1]}}}},
        {"ConditionCheck": {"TableName": NAMES, "Key": {"k": {"S": "a"}, "s": {"S": "0"}},
                            "ConditionExpression": "attribute_exists(k)"}},
        _update(order_key("created", "1"), "SET v = :one", ONE), _update(order_key("a", "2"), "REMOVE s")]
    yield "success with one item written under two spellings", [order_put("twice", "2.5"), order_put("twice", "2.50")]
    yield "condition failure", [*VALID_FIRST, _fails("attribute_not_exists(pk)")]
    yield "condition failure returning the old item", [
        *VALID_FIRST, _fails("v > :big", {":big": {"N": "1000"}}, ReturnValuesOnConditionCheckFailure="ALL_OLD")]
    yield "condition failure on a missing item returning nothing", [
        *VALID_FIRST, {"Delete": missing | {"ConditionExpression": "attribute_exists(pk)",
                                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}]
    yield "failed condition check returning the old item", [
        *VALID_FIRST, {"ConditionCheck": {"TableName": COUNTERS, "Key": {"id": {"N": "2"}},
                                          "ConditionExpression": "hits < :one", "ExpressionAttributeValues": ONE,
                                          "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}]
    yield "two condition failures among successes", [
        _fails("attribute_not_exists(pk)"), *VALID_FIRST,
        {"Put": {"TableName": COUNTERS, "Item": {"id": {"N": "0"}}, "ConditionExpression": "attribute_not_exists(id)",
                 "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}]
    for name, bad in LATER_FAILURES.items():
        yield f"later item: {name}", [*VALID_FIRST, bad]
    for name in ("ADD to a string", "update over 400 KB on a new item", "number overflow", "repeated item"):
        yield f"later item after a condition failure: {name}", [_fails("attribute_not_exists(pk)"), *VALID_FIRST,
                                                                 LATER_FAILURES[name]]
    yield "validation failure before a condition failure", [
        *VALID_FIRST, LATER_FAILURES["ADD to a string"], _fails("attribute_not_exists(pk)")]
    yield "two spellings of one item, then a failure", [
        order_put("twice", "7", v={"N": "1"}), _update(order_key("twice", "7.0"), "ADD v :one", ONE),
        LATER_FAILURES["put over 400 KB"]]
    # On the small table: stock moto copies every table a transaction touches once per item.
    bulk = [{"Put": {"TableName": COUNTERS, "Item": {"id": {"N": str(5000 + i)}}}} for i in range(101)]
    yield "101 items", bulk
    yield "100 items", bulk[:100]
    yield "100 items with the last one failing", [*bulk[:99], LATER_FAILURES["ADD to a string"]]


def singles() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Single-item requests and batches (the contention layer wraps their handlers too)."""
    single = order_key("single", "1")
    yield "put_item", "put_item", {"TableName": ORDERS, "Item": single | {"v": {"N": "3"}}}
    yield "put_item condition failure", "put_item", {"TableName": ORDERS, "Item": single,
                                                     "ConditionExpression": "attribute_not_exists(pk)"}
    yield "update_item", "update_item", {"TableName": COUNTERS, "Key": COUNTER, "UpdateExpression": "ADD hits :one",
                                         "ExpressionAttributeValues": ONE, "ReturnValues": "ALL_NEW"}
    yield "update_item condition failure", "update_item", {
        "TableName": ORDERS, "Key": single, "UpdateExpression": "SET v = :one", "ExpressionAttributeValues": ONE,
        "ConditionExpression": "v < :one", "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
    yield "get_item", "get_item", {"TableName": ORDERS, "Key": single, "ConsistentRead": True}
    yield "transact_get_items", "transact_get_items", {"TransactItems": [
        {"Get": {"TableName": ORDERS, "Key": single}}, {"Get": {"TableName": COUNTERS, "Key": COUNTER}},
        {"Get": {"TableName": ORDERS, "Key": order_key("nobody", "1")}}]}
    yield "batch_write_item", "batch_write_item", {"RequestItems": {ORDERS: [
        {"PutRequest": {"Item": order_key("batch", "1")}}, {"DeleteRequest": {"Key": single}}]}}
    yield "batch_get_item", "batch_get_item", {"RequestItems": {ORDERS: {"Keys": [
        order_key("batch", "1"), single, OLD], "ConsistentRead": True}}}
    yield "delete_item", "delete_item", {"TableName": ORDERS, "Key": order_key("batch", "1"),
                                         "ReturnValues": "ALL_OLD"}


def _query(table: str, condition: str, values: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"_op": "pages:query", "TableName": table, "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values, **extra}


def reads() -> Iterator[tuple[str, dict[str, Any]]]:
    for forward in (True, False):
        way = "forward" if forward else "backward"
        for pk in [*S_KEYS, "new", "twice"]:
            yield f"query {ORDERS} {pk!r} {way}", _query(ORDERS, "pk = :p", {":p": {"S": pk}}, Limit=3,
                                                       ScanIndexForward=forward)
        yield f"query {ORDERS} between {way}", _query(ORDERS, "pk = :p AND sk BETWEEN :lo AND :hi",
                                                      {":p": {"S": "a"}, ":lo": {"N": "0"}, ":hi": {"N": "10"}},
                                                      Limit=2, ScanIndexForward=forward)
        for g in S_KEYS[:3]:
            yield f"query {ORDERS}.by_g {g!r} {way}", _query(ORDERS, "g = :g", {":g": {"S": g}}, IndexName="by_g",
                                                           Limit=2, ScanIndexForward=forward)
        for h in B_KEYS:
            yield f"query {BLOBS} {h} {way}", _query(BLOBS, "h = :h", {":h": {"B": h}}, Limit=2,
                                                     ScanIndexForward=forward)
        yield f"query {BLOBS} begins_with {way}", _query(BLOBS, "h = :h AND begins_with(r, :p)",
                                                         {":h": {"B": B_KEYS[3]}, ":p": {"B": "YQ=="}},
                                                         ScanIndexForward=forward)
        for tag in ("hot", "cold"):
            yield f"query {BLOBS}.by_tag {tag} {way}", _query(BLOBS, "tag = :t", {":t": {"S": tag}},
                                                             IndexName="by_tag", Limit=3, ScanIndexForward=forward)
        for k in S_KEYS[:4]:
            yield f"query {NAMES} {k!r} {way}", _query(NAMES, "k = :k AND begins_with(s, :p)",
                                                     {":k": {"S": k}, ":p": {"S": "1"}}, ScanIndexForward=forward)
        yield f"query {NAMES}.by_n {way}", _query(NAMES, "n = :n", {":n": {"N": "-1"}}, IndexName="by_n", Limit=2,
                                                  ScanIndexForward=forward)
    yield f"query {ORDERS} filtered", _query(ORDERS, "pk = :p", {":p": {"S": "B"}, ":z": {"N": "0"}}, Limit=3,
                                             FilterExpression="v > :z")
    yield f"query {ORDERS} count", _query(ORDERS, "pk = :p", {":p": {"S": "é"}}, Select="COUNT")
    for table, index in ((ORDERS, "by_g"), (COUNTERS, None), (BLOBS, "by_tag"), (NAMES, "by_n")):
        yield f"scan {table}", {"_op": "pages:scan", "TableName": table, "Limit": 17}
        if index:
            yield f"scan {table}.{index}", {"_op": "pages:scan", "TableName": table, "IndexName": index, "Limit": 9}
        for segment in range(3 if table != BLOBS else 0):  # moto cannot split a scan on binary keys
            yield f"scan {table} segment {segment}", {"_op": "pages:scan", "TableName": table, "Limit": 12,
                                                      "Segment": segment, "TotalSegments": 3}
    yield f"scan {ORDERS} filtered", {"_op": "pages:scan", "TableName": ORDERS, "Limit": 7,
                                      "FilterExpression": "attribute_exists(g) AND v < :z",
                                      "ExpressionAttributeValues": {":z": {"N": "0"}}}
