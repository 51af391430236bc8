"""LocalRuntime: fire the tick, deliver SQS messages and stream records to the real handlers."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib import wiring
from chalicelib.core.clock import to_iso
from chalicelib.core.config import get_config
from chalicelib.core.resources import QUEUES, STREAM_BATCH_SIZE, STREAM_RETRIES
from infra.local.provision import provision
from infra.replay import lambda_record as _lambda_record

log = logging.getLogger(__name__)
ACCOUNT = "123456789012"


class LambdaContext:
    """The few attributes handlers and Powertools read from a Lambda context."""

    function_name = "local"
    memory_limit_in_mb = 1024
    invoked_function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:local"
    aws_request_id = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


@dataclass
class DrainStats:
    """What one drain() delivered."""

    sqs_messages: dict[str, int] = field(default_factory=dict)
    sqs_failures: dict[str, int] = field(default_factory=dict)
    stream_records: int = 0
    stream_failures: int = 0
    stream_retries: int = 0  # failed invocations (partial failures, and function errors that split the batch)
    rounds: int = 0


class LocalRuntime:
    """The same handlers Lambda runs, driven in-process against whatever endpoint is configured."""

    def __init__(self, handlers: Any | None = None, now: datetime | None = None) -> None:
        """`handlers` is the app module (app.py): its `tick`, `*_worker` and `activity_stream` functions."""
        if handlers is None:
            import app as handlers
        self.app: Any = handlers
        self.urls = provision()
        self.now = now or wiring.now()
        self._iterators: dict[str, str] = {}
        self._stream_arn = self._activity_stream_arn()
        self._init_iterators()
        self.stream_dead_letters: list[dict[str, Any]] = []

    # -- time -------------------------------------------------------------------------------
    def set_time(self, now: datetime) -> None:
        """Move simulated time; every handler's clock follows it."""
        self.now = now
        wiring.set_clock(lambda: self.now)

    def tick(self, now: datetime) -> Any:
        """Invoke `tick` as EventBridge would at `now`."""
        self.set_time(now)
        event = {
            "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": ACCOUNT, "time": to_iso(now), "region": get_config().region,
            "resources": [f"arn:aws:events:{get_config().region}:{ACCOUNT}:rule/tick"], "detail": {},
        }
        return self.app.tick(event, LambdaContext())

    # -- SQS --------------------------------------------------------------------------------
    def _deliver_queue(self, name: str, batch_size: int, stats: DrainStats) -> int:
        sqs = wiring.client("sqs")
        url = self.urls[name]
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(batch_size, 10), WaitTimeSeconds=0,
                                  AttributeNames=["All"], MessageAttributeNames=["All"])
        messages = got.get("Messages", [])
        if not messages:
            return 0
        arn = f"arn:aws:sqs:{get_config().region}:{ACCOUNT}:{get_config().queue(name)}"
        records = [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m.get("Attributes", {}), "messageAttributes": m.get("MessageAttributes", {}),
            "md5OfBody": hashlib.md5(m["Body"].encode()).hexdigest(), "eventSource": "aws:sqs",
            "eventSourceARN": arn, "awsRegion": get_config().region,
        } for m in messages]
        handler = getattr(self.app, f"{name}_worker")
        failed: set[str] = set()
        try:
            result = handler({"Records": records}, LambdaContext()) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception:
            failed = {r["messageId"] for r in records}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
        for m in messages:
            if m["MessageId"] in failed:
                # Visible again at once, as after a visibility timeout; SQS counts the receive.
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
        stats.sqs_messages[name] = stats.sqs_messages.get(name, 0) + len(done)
        stats.sqs_failures[name] = stats.sqs_failures.get(name, 0) + len(failed)
        return len(messages)

    # -- DynamoDB stream --------------------------------------------------------------------
    def _activity_stream_arn(self) -> str:
        table = wiring.client("dynamodb").describe_table(TableName=get_config().table("activity"))["Table"]
        return str(table["LatestStreamArn"])

    def _init_iterators(self) -> None:
        streams = wiring.client("dynamodbstreams")
        shards = streams.describe_stream(StreamArn=self._stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            self._iterators[shard["ShardId"]] = streams.get_shard_iterator(
                StreamArn=self._stream_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST")["ShardIterator"]

    def _deliver_stream(self, stats: DrainStats) -> int:
        streams = wiring.client("dynamodbstreams")
        delivered = 0
        for shard_id, iterator in list(self._iterators.items()):
            got = streams.get_records(ShardIterator=iterator, Limit=STREAM_BATCH_SIZE)  # one batch per page
            self._iterators[shard_id] = got["NextShardIterator"]
            pending = [_lambda_record(r, self._stream_arn) for r in got.get("Records", [])]
            delivered += self._invoke_stream(pending, stats)
        return delivered

    def _invoke_stream(self, pending: list[dict[str, Any]], stats: DrainStats) -> int:
        """One batch as the event source mapping runs it (infra/package.py): partial failures resume from the
        first failed record; a function error bisects the batch (BisectBatchOnFunctionError; a split is not a
        retry); after MaximumRetryAttempts the record goes to the on-failure destination."""
        delivered = attempts = 0
        while pending:
            try:
                result = self.app.activity_stream({"Records": pending}, LambdaContext()) or {}
                failures = [f["itemIdentifier"] for f in result.get("batchItemFailures", [])]
            except Exception:
                if len(pending) > 1:
                    stats.stream_retries += 1
                    half = len(pending) // 2
                    return (delivered + self._invoke_stream(pending[:half], stats)
                            + self._invoke_stream(pending[half:], stats))
                failures = [pending[0]["dynamodb"]["SequenceNumber"]]
            if not failures:
                stats.stream_records += len(pending)
                return delivered + len(pending)
            stats.stream_retries += 1
            first = min(failures, key=int)
            index = next(i for i, r in enumerate(pending) if r["dynamodb"]["SequenceNumber"] == first)
            stats.stream_records += index
            delivered += index
            pending = pending[index:]
            attempts += 1
            if attempts > STREAM_RETRIES:
                # Like MaximumRetryAttempts with an on-failure destination: set aside, move on.
                self.stream_dead_letters.append(pending[0])
                stats.stream_failures += 1
                pending = pending[1:]
                attempts = 0
        return delivered

    # -- everything -------------------------------------------------------------------------
    def drain(self, max_rounds: int = 10_000) -> DrainStats:
        """Deliver stream records and queued messages until nothing is left."""
        stats = DrainStats()
        for _ in range(max_rounds):
            stats.rounds += 1
            moved = self._deliver_stream(stats)
            for queue in QUEUES:
                moved += self._deliver_queue(queue.name, queue.batch_size, stats)
            if moved == 0:
                return stats
        raise RuntimeError(f"drain did not settle after {max_rounds} rounds")

    def drain_parallel(self, workers: int, idle_rounds: int = 3) -> DrainStats:
        """Like drain(), with `workers` concurrent consumers of the queues (Lambda's concurrency on one queue);
        the stream is read by this thread meanwhile. Ends when the stream and every queue stay empty."""
        stats = DrainStats()
        lock = threading.Lock()
        busy = [0]
        stop = threading.Event()
        errors: list[BaseException] = []

        def consume() -> None:
            try:
                while not stop.is_set():
                    with lock:
                        busy[0] += 1
                    moved = 0
                    try:
                        for queue in QUEUES:
                            local = DrainStats()
                            moved += self._deliver_queue(queue.name, queue.batch_size, local)
                            with lock:
                                for name, n in local.sqs_messages.items():
                                    stats.sqs_messages[name] = stats.sqs_messages.get(name, 0) + n
                                for name, n in local.sqs_failures.items():
                                    stats.sqs_failures[name] = stats.sqs_failures.get(name, 0) + n
                    finally:
                        with lock:
                            busy[0] -= 1
                    if not moved:
                        time.sleep(0.05)
            except BaseException as exc:  # surfaced by the caller's thread
                errors.append(exc)

        threads = [threading.Thread(target=consume, name=f"worker-{i}", daemon=True) for i in range(workers)]
        for t in threads:
            t.start()
        quiet = 0
        try:
            while quiet < idle_rounds and not errors:
                stats.rounds += 1
                moved = self._deliver_stream(stats)
                with lock:
                    idle = busy[0] == 0
                quiet = quiet + 1 if not moved and idle and self._queues_empty() else 0
                time.sleep(0.1 if not moved else 0)
        finally:
            stop.set()
            for t in threads:
                t.join()
        if errors:
            raise errors[0]
        return stats

    def _queues_empty(self) -> bool:
        sqs = wiring.client("sqs")
        for queue in QUEUES:
            attrs = sqs.get_queue_attributes(QueueUrl=self.urls[queue.name], AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            if int(attrs["ApproximateNumberOfMessages"]) or int(attrs["ApproximateNumberOfMessagesNotVisible"]):
                return False
        return True

    def purge(self) -> None:
        """Drop queued messages and skip unread stream records (test isolation)."""
        sqs = wiring.client("sqs")
        for url in self.urls.values():
            while True:
                got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
                if not got.get("Messages"):
                    break
                sqs.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got["Messages"])])
        self._init_iterators()

    def dead_letters(self, name: str) -> list[dict[str, Any]]:
        """Messages sitting in a queue's DLQ (read without deleting)."""
        sqs = wiring.client("sqs")
        got = sqs.receive_message(QueueUrl=self.urls[f"{name}-dlq"], MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                  VisibilityTimeout=0)
        return [json.loads(m["Body"]) for m in got.get("Messages", [])]
