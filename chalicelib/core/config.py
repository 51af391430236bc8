"""Process configuration, read from the environment once (the only os.environ reader)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache

from chalicelib.core.resources import QUEUES, TABLES


def table_variable(logical: str) -> str:
    """The environment variable that names a table's physical name (`MKT_TABLE_DEFINITIONS`)."""
    return f"MKT_TABLE_{logical.upper()}"


def queue_variable(logical: str) -> str:
    """The environment variable that holds a queue's URL (`MKT_QUEUE_PLAN_URL`)."""
    return f"MKT_QUEUE_{logical.upper()}_URL"


@dataclass(frozen=True)
class Config:
    """Deployment-level settings; per-merchant settings live in DynamoDB.

    A dataclass, not a pydantic model: the authorizer's Lambda reads it on its first invocation, and building the
    first pydantic model would cost it a third of `import boto3` in CPU (bench/coldstart.py).
    """

    prefix: str = "mkt"  # prefix of table and queue names nothing else names
    tables: dict[str, str] = field(default_factory=dict)  # logical -> physical table name (the template's)
    queue_urls: dict[str, str] = field(default_factory=dict)  # logical queue -> URL (the template's)
    region: str = "us-east-1"
    endpoint_url: str | None = None
    export_bucket: str = "mkt-exports"
    service: str = "precision-marketing"  # logs' and metrics' service (the stage's name)
    max_body_bytes: int = 1_048_576
    customer_shards: int = 16
    # Only for `chalice package`; the merge template replaces it with the table's StreamArn.
    activity_stream_arn: str = "arn:aws:dynamodb:us-east-1:000000000000:table/mkt-activity/stream/placeholder"

    def table(self, name: str) -> str:
        """Physical table name for a logical one: the template's (CloudFormation names it), else `<prefix>-<name>`."""
        return self.tables.get(name) or f"{self.prefix}-{name}"

    def queue(self, name: str) -> str:
        """Physical queue name for a logical one: the last part of the template's URL, else `<prefix>-<name>`."""
        url = self.queue_urls.get(name)
        return url.rsplit("/", 1)[-1] if url else f"{self.prefix}-{name}"

    def queue_url(self, name: str) -> str | None:
        """The queue's URL when the deployment gave it (then no GetQueueUrl is needed)."""
        return self.queue_urls.get(name)


@lru_cache(maxsize=1)
def get_config() -> Config:
    """The one Config of this process."""
    env = os.environ
    tables = {t.name: env[table_variable(t.name)] for t in TABLES if env.get(table_variable(t.name))}
    queues = {q.name: env[queue_variable(q.name)] for q in QUEUES if env.get(queue_variable(q.name))}
    return Config(
        prefix=env.get("MKT_PREFIX", "mkt"), tables=tables, queue_urls=queues,
        region=env.get("AWS_DEFAULT_REGION", env.get("AWS_REGION", "us-east-1")),
        endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
        export_bucket=env.get("MKT_EXPORT_BUCKET", "mkt-exports"),
        service=env.get("POWERTOOLS_SERVICE_NAME", "precision-marketing"),
    )
