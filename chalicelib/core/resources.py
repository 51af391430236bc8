"""Every table and queue, declared once: local provisioning and the CFN template read this."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    TableSpec("customers", "customer profiles and derived metrics, sharded by merchant", (GSI1,)),
    TableSpec("activity", "orders and behaviour events; its stream feeds activity_stream", (GSI1,), stream=True),
    TableSpec("dispatch", "runs, delivery ledger, due index, customers' contact items (caps and touches), quotas",
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

QUEUES: tuple[QueueSpec, ...] = (
    QueueSpec("plan", "plan work: resolve a run's target into recipient chunks", visibility_timeout=900, batch_size=1),
    QueueSpec("dispatch", "recipient chunks to deliver", visibility_timeout=360, batch_size=5),
)


def table_spec(name: str) -> TableSpec:
    """The spec of a logical table name."""
    for spec in TABLES:
        if spec.name == name:
            return spec
    raise KeyError(name)
