"""infra.replay: the activity stream's dead letters (a shard and a sequence range) replayed from the stream."""

from __future__ import annotations

import json
from typing import Any

from chalicelib import wiring
from chalicelib.core.config import get_config
from infra.replay import replay


def _dead_letter(sqs: Any, url: str, stream_arn: str, shard: str, first: str, last: str) -> None:
    info = {"shardId": shard, "startSequenceNumber": first, "endSequenceNumber": last, "streamArn": stream_arn,
            "batchSize": 2}
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"version": "1.0", "DDBStreamBatchInfo": info}))


def test_replay_hands_the_dead_letters_range_to_the_function_and_keeps_what_fails_again_when_run(aws):
    ddb, streams, sqs = wiring.client("dynamodb"), wiring.client("dynamodbstreams"), wiring.client("sqs")
    table = get_config().table("activity")
    stream_arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    (shard,) = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][-1:]
    for n in range(3):
        ddb.put_item(TableName=table, Item={"pk": {"S": "m_replay"}, "sk": {"S": f"ORDER#{n}"}})
    iterator = streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"],
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    mine = [r for r in streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]
            if r["dynamodb"]["Keys"]["pk"]["S"] == "m_replay"]
    url = sqs.create_queue(QueueName="test-activity-stream-dlq")["QueueUrl"]
    seq = [r["dynamodb"]["SequenceNumber"] for r in mine]
    _dead_letter(sqs, url, stream_arn, shard["ShardId"], seq[0], seq[1])  # the first two records failed
    seen: list[list[str]] = []

    def failing(event: dict[str, Any]) -> dict[str, Any]:
        seen.append([r["dynamodb"]["SequenceNumber"] for r in event["Records"]])
        return {"FunctionError": "Unhandled"}

    assert replay(sqs, streams, failing, url, hide_failed=0) == {"replayed": 0, "records": 0, "failed": 1}

    def working(event: dict[str, Any]) -> dict[str, Any]:
        seen.append([r["dynamodb"]["SequenceNumber"] for r in event["Records"]])
        assert all(r["eventSourceARN"] == stream_arn for r in event["Records"])
        assert all(isinstance(r["dynamodb"]["ApproximateCreationDateTime"], int) for r in event["Records"])
        return {"batchItemFailures": []}

    assert replay(sqs, streams, working, url) == {"replayed": 1, "records": 2, "failed": 0}
    assert seen == [seq[:2], seq[:2]]
    assert not sqs.receive_message(QueueUrl=url, VisibilityTimeout=0).get("Messages")
