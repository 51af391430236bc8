"""Count every AWS request botocore sends, by service and operation (a `before-send` event hook)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import botocore.client

# What Lambda's event source mappings do on AWS (poll the stream and the queues) and LocalRuntime does here: not
# requests the application makes per order (DynamoDB Streams reads by Lambda are free; queue polls are per
# poller and second, whatever the traffic).
PUMP = frozenset({("dynamodb-streams", op) for op in ("GetRecords", "GetShardIterator", "DescribeStream")} | {
    ("sqs", op) for op in ("ReceiveMessage", "ReceiveMessage (empty)", "DeleteMessageBatch", "ChangeMessageVisibility",
                           "GetQueueAttributes")})
# The local runtime's polling: free on AWS (stream reads by Lambda) or an artifact of how often it polls (an empty
# receive, the queue depth it checks); a receive that returned messages is not polling, it is the message's cost.
POLLING = frozenset({("dynamodb-streams", op) for op in ("GetRecords", "GetShardIterator", "DescribeStream")} | {
    ("sqs", "GetQueueAttributes"), ("sqs", "ReceiveMessage (empty)")})


class RequestCounter:
    """Install before any client exists: every client created afterwards (boto3's, PynamoDB's) reports here."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self._original: Any = None

    def _hook(self, request: Any = None, event_name: str = "", **_: Any) -> None:
        parts = event_name.split(".")
        if len(parts) >= 3:
            self.counts[(parts[1], parts[2])] += 1

    def _received(self, parsed: Any = None, **_: Any) -> None:
        if isinstance(parsed, dict) and not parsed.get("Messages"):
            self.counts[("sqs", "ReceiveMessage")] -= 1
            self.counts[("sqs", "ReceiveMessage (empty)")] += 1

    def install(self) -> RequestCounter:
        original = botocore.client.ClientCreator.create_client
        hook, received = self._hook, self._received

        def create_client(creator: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(creator, *args, **kwargs)
            # First in line: moto's in-process stub answers in before-send too and would end the chain.
            client.meta.events.register_first("before-send", hook)
            client.meta.events.register("after-call.sqs.ReceiveMessage", received)
            return client

        self._original = original
        botocore.client.ClientCreator.create_client = create_client  # type: ignore[method-assign]
        return self

    def uninstall(self) -> None:
        if self._original is not None:
            botocore.client.ClientCreator.create_client = self._original  # type: ignore[method-assign]
            self._original = None

    def reset(self) -> None:
        self.counts.clear()

    def snapshot(self) -> Counter[tuple[str, str]]:
        return Counter(self.counts)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def fresh_clients() -> None:
    """Forget every boto3 / PynamoDB client, so the ones built next report to an installed counter."""
    from pynamodb.models import Model

    from chalicelib import wiring

    wiring.reset()
    pending = list(Model.__subclasses__())
    while pending:
        model = pending.pop()
        model._connection = None
        pending.extend(model.__subclasses__())
