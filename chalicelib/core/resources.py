"""Every table and queue, declared once: local provisioning and the CFN template read this."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class IndexSpec:
    """A global secondary index with string hash/range keys, all attributes projected."""

    name: str
    hash_key: str
    range_key: str


@dataclass(frozen=True)
class TableSpec:
    """A DynamoDB table: string `pk`/`sk`, on-demand, TTL on `expires_at`."""

    name: str
    purpose: str
    indexes: tuple[IndexSpec, ...] = ()
    stream: bool = False
    hash_key: str = "pk"
    range_key: str = "sk"
    ttl_attribute: str = "expires_at"


@dataclass(frozen=True)
class QueueSpec:
    """An SQS queue with its dead-letter queue `<name>-dlq`."""

    name: str
    purpose: str
    visibility_timeout: int = 180
    max_receive_count: int = 5
    batch_size: int = 10
    retry_delay: int = 60  # seconds a failed record stays hidden before its retry
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def dlq_name(self) -> str:
        return f"{self.name}-dlq"


GSI1 = IndexSpec("gsi1", "gsi1pk", "gsi1sk")
GSI2 = IndexSpec("gsi2", "gsi2pk", "gsi2sk")

TABLES: tuple[TableSpec, ...] = (
    TableSpec(
        "definitions",
        "merchants, keys, settings, templates, audiences, campaigns, idempotency records",
        indexes=(GSI1,),
    ),
    # Keys apart from every other definition: IAM can scope a role to a table, not to an item's sort-key prefix, so
    # only the API (its key routes) and the operator's admin CLI get write access to this one, the authorizer reads.
    TableSpec("keys", "API keys (SHA-256 hashes, roles, revocation)"),
    TableSpec("customers", "customer profiles and derived metrics, sharded by merchant; profiles by phone (gsi1) "
              "and nickname (gsi2)", (GSI1, GSI2)),
    TableSpec("activity", "orders and behaviour events (a customer's orders by payment time: gsi1); its stream feeds "
              "activity_stream", (GSI1,), stream=True),
    TableSpec("dispatch", "runs, delivery ledger, due index, customers' contact items (caps and reaches), quotas",
              (GSI1, GSI2)),
    TableSpec("wallet", "coupon instances, inbox messages and staff tasks", (GSI1, GSI2)),
    TableSpec("stats", "attribution and report counters", (GSI1,)),
)

# The activity stream's event source mapping. 1,000 records = one DynamoDB Streams GetRecords page, so each
# invocation folds, attributes and writes a whole page at once (per-batch reads and counter updates are paid
# once per 1,000 changes, not per 100); Lambda would allow 10,000, but beyond a page the batching window must
# fill it from several polls and a bisected retry re-runs more. The window lets quiet streams fill batches:
# attribution and triggers need no faster than the minute tick that sends triggered touches.
STREAM_BATCH_SIZE = 1000
STREAM_BATCHING_WINDOW_SECONDS = 5
# Retries of a failing stream batch (the mapping's MaximumRetryAttempts, bisected); then the record goes to the
# stream's dead-letter queue. The local runtime retries as often.
STREAM_RETRIES = 3

# Visibility timeouts are 6x the consuming function's timeout (.chalice/config.json: plan 900 s, dispatch 300 s), as
# AWS asks for SQS event sources: Lambda may hold a batch while it retries a throttled invocation, and a shorter
# timeout would hand the same message to a second worker meanwhile. A failed record does not wait that long: the
# handler hides it for the queue's retry_delay only (dispatch/handlers.py). infra/package.py checks the ratio.
QUEUES: tuple[QueueSpec, ...] = (
    QueueSpec("plan", "plan work: resolve a run's target into recipient chunks", visibility_timeout=5400, batch_size=1,
              retry_delay=900),
    # A failed chunk comes back after LEASE_SECONDS (dispatch/model.py, 300 s): a lease a dead worker left is over.
    QueueSpec("dispatch", "recipient chunks to deliver", visibility_timeout=1800, batch_size=5, retry_delay=360),
)
QUEUE_RETENTION_SECONDS = 345_600  # 4 days, the SQS default, said out loud
DLQ_RETENTION_SECONDS = 1_209_600  # 14 days, the SQS maximum: time to look at a poison message


def logical_id(name: str, suffix: str) -> str:
    """The template's logical id of a table or queue (`definitions` → `DefinitionsTable`), as chalice spells ids."""
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_")) + suffix


def queue_spec(name: str) -> QueueSpec:
    """The spec of a logical queue name."""
    for spec in QUEUES:
        if spec.name == name:
            return spec
    raise KeyError(name)


def table_spec(name: str) -> TableSpec:
    """The spec of a logical table name."""
    for spec in TABLES:
        if spec.name == name:
            return spec
    raise KeyError(name)


def table_request(spec: TableSpec, name: str | None) -> dict[str, Any]:
    """The CreateTable request of a table (keys, GSIs, stream): the local stack sends it, the template declares it."""
    names = {spec.hash_key, spec.range_key} | {k for i in spec.indexes for k in (i.hash_key, i.range_key)}
    request: dict[str, Any] = {
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": "S"} for n in sorted(names)],
        "KeySchema": [{"AttributeName": spec.hash_key, "KeyType": "HASH"},
                      {"AttributeName": spec.range_key, "KeyType": "RANGE"}],
    }
    if name is not None:
        request["TableName"] = name
    if spec.indexes:
        request["GlobalSecondaryIndexes"] = [
            {"IndexName": i.name, "KeySchema": [{"AttributeName": i.hash_key, "KeyType": "HASH"},
                                                {"AttributeName": i.range_key, "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "ALL"}}
            for i in spec.indexes]
    if spec.stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    return request


def queue_attributes(spec: QueueSpec, dead_letter: bool = False) -> dict[str, str]:
    """CreateQueue attributes of a queue or of its DLQ, without the redrive policy (it needs the DLQ's ARN)."""
    if dead_letter:
        return {"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)}
    return {"MessageRetentionPeriod": str(QUEUE_RETENTION_SECONDS), "VisibilityTimeout": str(spec.visibility_timeout)}
