"""`python -m infra.replay --stack NAME`: replay the activity stream's dead letters through its function.

The stream mapping's on-failure destination (ActivityStreamDeadLetterQueue) receives no records, only where they
were: shard, first and last sequence number. The records stay in the stream for 24 hours; within that time this
reads each range back, invokes the deployed activity_stream function with them as its mapping would, and deletes
the dead letter once the function took the whole batch. The consumer is idempotent: records it already folded
change nothing. (The SQS dead-letter queues need no tool: README, Replaying a dead-letter queue.)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

PAGE = 1000  # a GetRecords page; also the mapping's batch size (chalicelib/core/resources.py)


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A stream record as Lambda delivers it: the creation time is epoch seconds, not a datetime."""
    body = dict(record["dynamodb"])
    created = body.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        body["ApproximateCreationDateTime"] = int(created.timestamp())
    return dict(record, dynamodb=body, eventSourceARN=stream_arn)


def records_of(streams: Any, info: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The records of one dead letter's range (DDBStreamBatchInfo), in order."""
    iterator = streams.get_shard_iterator(StreamArn=info["streamArn"], ShardId=info["shardId"],
                                          ShardIteratorType="AT_SEQUENCE_NUMBER",
                                          SequenceNumber=info["startSequenceNumber"])["ShardIterator"]
    last = int(info["endSequenceNumber"])
    while iterator:
        page = streams.get_records(ShardIterator=iterator, Limit=PAGE)
        for record in page.get("Records", []):
            if int(record["dynamodb"]["SequenceNumber"]) > last:
                return
            yield lambda_record(record, info["streamArn"])
        if not page.get("Records"):
            return
        iterator = page.get("NextShardIterator")


def replay(sqs: Any, streams: Any, invoke: Callable[[dict[str, Any]], dict[str, Any]], dlq_url: str,
           hide_failed: int = 300) -> dict[str, int]:
    """Every dead letter of the queue, replayed once; one the function fails on again stays for the next run."""
    done = {"replayed": 0, "records": 0, "failed": 0}
    tried: set[str] = set()
    while True:
        got = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                  VisibilityTimeout=hide_failed)
        messages = [m for m in got.get("Messages", []) if m["MessageId"] not in tried]
        if not messages:
            return done
        for message in messages:
            tried.add(message["MessageId"])
            info = json.loads(message["Body"])["DDBStreamBatchInfo"]
            records = list(records_of(streams, info))
            failed = False
            for start in range(0, len(records), PAGE):
                result = invoke({"Records": records[start:start + PAGE]})
                failed = failed or bool(result.get("FunctionError") or result.get("batchItemFailures"))
            if failed:
                done["failed"] += 1
                continue
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            done["replayed"] += 1
            done["records"] += len(records)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.replay", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--region")
    args = parser.parse_args(argv)
    import boto3

    session = boto3.Session(region_name=args.region)
    resources = {r["LogicalResourceId"]: r["PhysicalResourceId"] for page in session.client(
        "cloudformation").get_paginator("list_stack_resources").paginate(StackName=args.stack)
                 for r in page["StackResourceSummaries"]}
    function, dlq = resources["ActivityStream"], resources["ActivityStreamDeadLetterQueue"]
    lam = session.client("lambda")

    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        answer = lam.invoke(FunctionName=function, Payload=json.dumps(event).encode())
        result: dict[str, Any] = json.loads(answer["Payload"].read() or b"{}") or {}
        if answer.get("FunctionError"):
            result["FunctionError"] = answer["FunctionError"]
        return result

    print(json.dumps(replay(session.client("sqs"), session.client("dynamodbstreams"), invoke, dlq)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
