"""Process configuration, read from the environment once (the only os.environ reader)."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, Field


class Config(BaseModel):
    """Deployment-level settings; per-merchant settings live in DynamoDB."""

    prefix: str = Field(default="mkt", description="prefix of every table and queue name")
    region: str = "us-east-1"
    endpoint_url: str | None = None
    export_bucket: str = "mkt-exports"
    max_body_bytes: int = 1_048_576
    customer_shards: int = 16
    activity_stream_arn: str = Field(
        default="arn:aws:dynamodb:us-east-1:000000000000:table/mkt-activity/stream/placeholder",
        description="only for `chalice package`; the merge template replaces it with the table's StreamArn",
    )

    def table(self, name: str) -> str:
        """Physical table name for a logical one."""
        return f"{self.prefix}-{name}"

    def queue(self, name: str) -> str:
        """Physical queue name for a logical one."""
        return f"{self.prefix}-{name}"


@lru_cache(maxsize=1)
def get_config() -> Config:
    """The one Config of this process."""
    env = os.environ
    return Config(
        prefix=env.get("MKT_PREFIX", "mkt"),
        region=env.get("AWS_DEFAULT_REGION", env.get("AWS_REGION", "us-east-1")),
        endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
        export_bucket=env.get("MKT_EXPORT_BUCKET", "mkt-exports"),
    )
