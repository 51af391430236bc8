"""What each function may touch, and the one IAM policy of its role derived from that.

One role per function, each with only the tables, indexes and actions its code uses. The declarations are checked
against the calls the handlers really make: tests/deploy/audit.py records every AWS call per function in the
offline deploy's story (and in the demo's) and fails on one its policy does not allow. The API keys live in their
own table (IAM scopes a role to a table or a partition key, not to a sort-key prefix): only the API (its key
routes) writes it, the authorizer only reads it, no worker can touch it, and the operator's admin CLI uses the
operator's own credentials.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from infra.stack.data import STREAM_DLQ, queue_id, stream_table, table_id
from infra.stack.params import att, sub

GET, BATCH_GET, QUERY = "GetItem", "BatchGetItem", "Query"
PUT, UPDATE, DELETE, BATCH_WRITE, CHECK = "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "ConditionCheckItem"
READ = (GET, BATCH_GET, QUERY)
WRITE = (PUT, UPDATE, DELETE, BATCH_WRITE, CHECK)
ALL = READ + WRITE


@dataclass(frozen=True)
class Access:
    """One function's reach. Transactions need no action of their own: IAM authorises each contained item."""

    tables: dict[str, tuple[str, ...]]  # logical table → DynamoDB actions on its items
    indexes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # logical table → GSIs it queries
    sends: tuple[str, ...] = ()  # queues it enqueues to
    consumes: tuple[str, ...] = ()  # the queue its event source mapping polls
    reads_stream: bool = False  # the activity stream's mapping (and its on-failure destination)
    messages: bool = False  # SES e-mail and SNS SMS
    exports: bool = False  # S3 CSV exports (write, and the presigned GET it signs)


# From the code paths each handler runs (the calls tests/deploy/audit.py records in the suite's stories), with the
# actions of the same stores' error and retry paths. Tables a function does not list, it cannot read.
ACCESS: dict[str, Access] = {
    "api_key_authorizer": Access({"keys": (GET,)}),
    "api_handler": Access(
        {"definitions": ALL, "keys": (GET, QUERY, PUT, UPDATE), "customers": ALL,
         "activity": (GET, QUERY, PUT, BATCH_WRITE), "dispatch": ALL, "wallet": ALL, "stats": READ},
        {"customers": ("gsi1", "gsi2"), "activity": ("gsi1",), "dispatch": ("gsi1", "gsi2"),
         "wallet": ("gsi1", "gsi2"), "stats": ("gsi1",)},
        sends=("plan", "dispatch"), exports=True),
    # tick (triggered touches), plan_worker and dispatch_worker write reports' delivery counters and recipient index
    # in their chunk transactions (dispatch/tally.py): PutItem and UpdateItem on stats, never a read.
    "tick": Access({"definitions": (GET, QUERY, UPDATE, CHECK), "dispatch": ALL, "stats": (PUT, UPDATE)},
                   {"dispatch": ("gsi1", "gsi2")}, sends=("plan", "dispatch")),
    "plan_worker": Access({"definitions": (GET, QUERY, PUT, UPDATE, CHECK), "customers": READ, "dispatch": ALL,
                           "stats": (PUT, UPDATE)},
                          {"customers": ("gsi1",), "dispatch": ("gsi1", "gsi2")},
                          sends=("plan", "dispatch"), consumes=("plan",)),
    "dispatch_worker": Access({"definitions": (GET, QUERY, UPDATE, CHECK), "customers": READ, "dispatch": ALL,
                               "wallet": (*READ, PUT, UPDATE, CHECK), "stats": (PUT, UPDATE)},
                              {"dispatch": ("gsi1", "gsi2")}, consumes=("dispatch",), messages=True),
    "activity_stream": Access({"definitions": (GET, QUERY), "customers": (*READ, PUT, UPDATE),
                               "dispatch": (*READ, PUT, UPDATE, CHECK), "wallet": (*READ, PUT, UPDATE, CHECK),
                               "stats": (*READ, PUT, UPDATE, CHECK)},
                              reads_stream=True),
}


def _allow(sid: str, actions: list[str], resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resource, **extra}


def _sid(text: str) -> str:
    return "".join(part.capitalize() for part in text.replace("-", "_").split("_"))


def role_policy(function: str, log_group_id: str) -> dict[str, Any]:
    """The one inline policy of a function's role. `*` only where IAM has no resource type (see the Sids)."""
    access = ACCESS[function]
    statements = [
        # The function's own log group (LoggingConfig): it exists before the function, so no CreateLogGroup.
        _allow("OwnLogGroup", ["logs:CreateLogStream", "logs:PutLogEvents"], att(log_group_id)),
        # Active tracing: the Lambda service sends the segments with the function's role; X-Ray has no resources.
        _allow("TracesHaveNoResourceType", ["xray:PutTelemetryRecords", "xray:PutTraceSegments"], "*"),
    ]
    for table, actions in access.tables.items():
        statements.append(_allow(f"Table{_sid(table)}", [f"dynamodb:{a}" for a in actions], att(table_id(table))))
    for table, indexes in access.indexes.items():
        statements.append(_allow(f"Index{_sid(table)}", ["dynamodb:Query"],
                                 [sub(f"${{{table_id(table)}.Arn}}/index/{i}") for i in indexes]))
    if access.sends:
        statements.append(_allow("Enqueue", ["sqs:SendMessage"], [att(queue_id(q)) for q in access.sends]))
    for queue in access.consumes:  # what the event source mapping does with the function's role
        statements.append(_allow(f"Consume{_sid(queue)}", ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage",
                                                           "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
                                 att(queue_id(queue))))
    if access.reads_stream:
        statements += [
            _allow("ReadActivityStream",
                   ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"],
                   att(table_id(stream_table().name), "StreamArn")),
            _allow("ListStreamsHasNoResourceType", ["dynamodb:ListStreams"], "*"),
            _allow("StreamOnFailureDestination", ["sqs:SendMessage"], att(queue_id(STREAM_DLQ))),
        ]
    if access.exports:
        statements.append(_allow("Exports", ["s3:GetObject", "s3:PutObject"], sub("${ExportBucket.Arn}/exports/*")))
    if access.messages:
        statements += [
            # Only the identities the operator listed, and only From addresses they cover (template Parameters):
            # a merchant's settings can name nothing else even if the registry check were bypassed.
            _allow("SendEmail", ["ses:SendEmail", "ses:SendRawEmail"], {"Ref": "SesIdentityArns"},
                   Condition={"StringLike": {"ses:FromAddress": {"Ref": "SesFromAddresses"}}}),
            # An SMS goes to a phone number, which has no ARN: Publish needs `*`, and topics are denied.
            _allow("SmsToPhoneNumbersHaveNoArn", ["sns:Publish"], "*"),
            {"Sid": "NoTopics", "Effect": "Deny", "Action": "sns:Publish",
             "Resource": sub("arn:${AWS::Partition}:sns:*:*:*")},
        ]
    return {"Version": "2012-10-17", "Statement": statements}
