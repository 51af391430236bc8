"""Tables, queues and dead-letter queues, from chalicelib.core.resources (the local stack provisions the same)."""

from __future__ import annotations

from typing import Any

from chalice.utils import to_cfn_resource_name

from chalicelib.core.resources import (
    DLQ_RETENTION_SECONDS,
    QUEUES,
    TABLES,
    QueueSpec,
    TableSpec,
    logical_id,
    queue_attributes,
    table_request,
)
from infra.stack.params import att

STREAM_DLQ = "activity-stream-dlq"  # the stream mapping's on-failure destination (a batch's shard and range)


def cfn(name: str) -> str:
    """chalice's logical-id spelling of a name (`plan_worker` → `PlanWorker`)."""
    return str(to_cfn_resource_name(name))


def table_id(name: str) -> str:
    return logical_id(name, "Table")


def queue_id(name: str) -> str:
    return logical_id(name[:-4], "DeadLetterQueue") if name.endswith("-dlq") else logical_id(name, "Queue")


def stream_table() -> TableSpec:
    (spec,) = [t for t in TABLES if t.stream]
    return spec


def dead_letter_queues() -> list[str]:
    """Every DLQ's logical id: one per queue, and the stream's on-failure destination."""
    return [queue_id(q.dlq_name) for q in QUEUES] + [queue_id(STREAM_DLQ)]


def _table(spec: TableSpec) -> dict[str, Any]:
    # The same request infra/local/provision.py sends (keys, GSIs, stream), minus the name: CloudFormation names
    # the table after the stack, so stages side by side never collide, and the functions get it through their
    # environment. Merchant data outlives the stack: a stack delete or a replacing update keeps the table, a failed
    # first create removes it (RetainExceptOnCreate: a retry does not meet "already exists"), and deletion
    # protection refuses a DeleteTable from anyone, console included.
    request = table_request(spec, name=None)
    props: dict[str, Any] = {
        "BillingMode": request["BillingMode"], "AttributeDefinitions": request["AttributeDefinitions"],
        "KeySchema": request["KeySchema"],
        "TimeToLiveSpecification": {"AttributeName": spec.ttl_attribute, "Enabled": True},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "DeletionProtectionEnabled": True,
        "SSESpecification": {"SSEEnabled": True},
        "Tags": [{"Key": "purpose", "Value": spec.purpose[:256]}],
    }
    if "GlobalSecondaryIndexes" in request:
        props["GlobalSecondaryIndexes"] = request["GlobalSecondaryIndexes"]
    if "StreamSpecification" in request:
        props["StreamSpecification"] = {"StreamViewType": request["StreamSpecification"]["StreamViewType"]}
    return {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "RetainExceptOnCreate", "UpdateReplacePolicy": "Retain",
            "Properties": props}


def _queue(attributes: dict[str, str], redrive_to: str | None = None, max_receives: int = 0) -> dict[str, Any]:
    # Queued work is transient (the tables hold the truth and the claims): deleted with the stack.
    props: dict[str, Any] = {"MessageRetentionPeriod": int(attributes["MessageRetentionPeriod"]),
                             "SqsManagedSseEnabled": True}
    if "VisibilityTimeout" in attributes:
        props["VisibilityTimeout"] = int(attributes["VisibilityTimeout"])
    if redrive_to:
        props["RedrivePolicy"] = {"deadLetterTargetArn": att(redrive_to), "maxReceiveCount": max_receives}
    return {"Type": "AWS::SQS::Queue", "DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete", "Properties": props}


def _queues(spec: QueueSpec) -> dict[str, Any]:
    dlq = queue_id(spec.dlq_name)
    return {dlq: _queue(queue_attributes(spec, dead_letter=True)),
            queue_id(spec.name): _queue(queue_attributes(spec), dlq, spec.max_receive_count)}


def data_resources() -> dict[str, Any]:
    resources = {table_id(spec.name): _table(spec) for spec in TABLES}
    for queue in QUEUES:
        resources.update(_queues(queue))
    resources[queue_id(STREAM_DLQ)] = _queue({"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)})
    return resources
