"""One fixed script of DynamoDB requests, recorded against whichever moto is installed (stock or devtools.fastmoto).

Four tables cover every key type (S, N, B hash and range keys, a hash-only table, sparse and KEYS_ONLY GSIs, two
streams). The script seeds them in transactions, then runs transactions that succeed, fail a condition (with and
without ReturnValuesOnConditionCheckFailure), fail validation on a later item, repeat an item or exceed 100 items,
then single-item writes, reads and batches, then paginated queries and scans in both directions. `record` answers,
per step, the response or error and a snapshot of every table (items and stream records), so two recordings can be
compared item for item.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends

from tests.support import dynamo_cases as cases

REGION = "eu-central-2"  # nobody else's moto world lives here
VARYING = {"ApproximateCreationDateTime", "SizeBytes"}  # a stream record's clock time, and its size that counts it
WRITES = frozenset({"transact_write_items", "put_item", "update_item", "delete_item", "batch_write_item"})
Step = tuple[str, str, dict[str, Any]]  # (label, operation or "pages:<operation>", request)


def _attrs(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"AttributeName": n, "AttributeType": t} for n, t in pairs]


def _keys(hash_key: str, range_key: str | None = None) -> list[dict[str, str]]:
    return [{"AttributeName": hash_key, "KeyType": "HASH"}] + (
        [{"AttributeName": range_key, "KeyType": "RANGE"}] if range_key else [])


STREAM = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
TABLES: list[dict[str, Any]] = [
    {"TableName": cases.ORDERS, "KeySchema": _keys("pk", "sk"), "StreamSpecification": STREAM,
     "AttributeDefinitions": _attrs(("pk", "S"), ("sk", "N"), ("g", "S"), ("gs", "N")),
     "GlobalSecondaryIndexes": [{"IndexName": "by_g", "KeySchema": _keys("g", "gs"),
                                 "Projection": {"ProjectionType": "ALL"}}]},
    {"TableName": cases.COUNTERS, "KeySchema": _keys("id"), "AttributeDefinitions": _attrs(("id", "N")),
     "StreamSpecification": STREAM},
    {"TableName": cases.BLOBS, "KeySchema": _keys("h", "r"),
     "AttributeDefinitions": _attrs(("h", "B"), ("r", "B"), ("tag", "S")),
     "GlobalSecondaryIndexes": [{"IndexName": "by_tag", "KeySchema": _keys("tag", "r"),
                                 "Projection": {"ProjectionType": "ALL"}}]},
    {"TableName": cases.NAMES, "KeySchema": _keys("k", "s"), "AttributeDefinitions": _attrs(("k", "S"), ("s", "S"),
                                                                                          ("n", "N")),
     "GlobalSecondaryIndexes": [{"IndexName": "by_n", "KeySchema": _keys("n"),
                                 "Projection": {"ProjectionType": "KEYS_ONLY"}}]},
]


def _seed_items() -> list[dict[str, Any]]:
    rnd = random.Random(13)
    puts: list[dict[str, Any]] = []
    for i, pk in enumerate(cases.S_KEYS):
        for j, sk in enumerate(cases.N_KEYS):
            item = {"pk": {"S": pk}, "sk": {"N": sk}, "v": {"N": str(rnd.randint(-50, 50))}, "s": {"S": "text"}}
            if (i + j) % 3:  # a sparse index: a third of the orders are not in by_g
                item |= {"g": {"S": cases.S_KEYS[j % 3]}, "gs": {"N": cases.N_KEYS[(i * 5 + j) % 7]}}
            puts.append({"TableName": cases.ORDERS, "Item": item})
    for n in cases.N_KEYS:
        puts.append({"TableName": cases.COUNTERS, "Item": {"id": {"N": n}, "hits": {"N": "1"}, "s": {"S": "x"}}})
    for h in cases.B_KEYS:
        for r in rnd.sample(cases.B_KEYS, 4):
            puts.append({"TableName": cases.BLOBS, "Item": {"h": {"B": h}, "r": {"B": r},
                                                           "tag": {"S": rnd.choice(["hot", "cold"])}}})
    for i in range(30):
        puts.append({"TableName": cases.NAMES, "Item": {"k": {"S": cases.S_KEYS[i % 4]}, "s": {"S": f"{i * 7 % 30:x}"},
                                                        "n": {"N": str(i % 5 - 2)}}})
    return [{"Put": p} for p in puts]


def steps() -> Iterator[Step]:
    seed = _seed_items()
    for start in range(0, len(seed), 25):
        yield f"seed {start}", "transact_write_items", {"TransactItems": seed[start:start + 25]}
    for label, items in cases.transactions():
        yield label, "transact_write_items", {"TransactItems": items}
    yield from cases.singles()
    for label, request in cases.reads():
        yield label, request.pop("_op"), request


def _answer(client: Any, operation: str, request: dict[str, Any]) -> Any:
    if not operation.startswith("pages:"):
        response = getattr(client, operation)(**request)
        response.pop("ResponseMetadata", None)
        return response
    pages, start = [], None
    while True:
        page = getattr(client, operation.removeprefix("pages:"))(
            **request, **({"ExclusiveStartKey": start} if start else {}))
        page.pop("ResponseMetadata", None)
        pages.append(page)
        start = page.get("LastEvaluatedKey")
        if not start or len(pages) > 100:
            return pages


def outcome(client: Any, operation: str, request: dict[str, Any]) -> Any:
    try:
        return {"ok": _answer(client, operation, request)}
    except ClientError as error:
        return {"error": error.response["Error"], "reasons": error.response.get("CancellationReasons")}
    except Exception as error:  # moto raises some validation errors as plain Python exceptions
        return {"raised": type(error).__name__, "message": str(error)}


def snapshot_of(table_name: str) -> dict[str, Any]:
    """A table's items (canonical JSON, sorted), its item count and its stream records in order."""
    table = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables[table_name]
    stored = [i for bucket in table.items.values() for i in (bucket.values() if table.range_key_attr else [bucket])]
    records = [{k: v for k, v in r.record["dynamodb"].items() if k not in VARYING}
               | {"eventName": r.record["eventName"]} for r in (table.stream_shard.items if table.stream_shard else [])]
    return {"items": sorted(json.dumps(i.to_json(), sort_keys=True, default=repr) for i in stored), "count": len(table),
            "stream": records}


def snapshot() -> dict[str, Any]:
    return {spec["TableName"]: snapshot_of(spec["TableName"]) for spec in TABLES}


def record() -> list[tuple[str, Any, Any]]:
    """Run the script on fresh tables: (label, outcome, snapshot after a write or None) per step."""
    client = boto3.client("dynamodb", region_name=REGION,
                          config=Config(parameter_validation=False, retries={"max_attempts": 1}))
    for spec in TABLES:
        client.create_table(BillingMode="PAY_PER_REQUEST", **spec)
    try:
        return [(label, outcome(client, operation, request),
                 snapshot() if operation in WRITES else None)
                for label, operation, request in steps()]
    finally:
        for spec in TABLES:
            client.delete_table(TableName=spec["TableName"])
