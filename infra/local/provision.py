"""Create every table, queue and bucket of chalicelib.core.resources on the configured endpoint."""

from __future__ import annotations

import json

from chalicelib import wiring
from chalicelib.core.config import get_config
from chalicelib.core.resources import QUEUES, TABLES, queue_attributes, table_request


def provision() -> dict[str, str]:
    """Idempotently create all resources; returns queue name → URL."""
    cfg = get_config()
    ddb = wiring.client("dynamodb")
    existing = set(ddb.list_tables().get("TableNames", []))
    for spec in TABLES:
        physical = cfg.table(spec.name)
        if physical not in existing:
            ddb.create_table(**table_request(spec, physical))
            ddb.update_time_to_live(TableName=physical, TimeToLiveSpecification={
                "Enabled": True, "AttributeName": spec.ttl_attribute})
    sqs = wiring.client("sqs")
    urls: dict[str, str] = {}
    for queue in QUEUES:
        dlq_url = sqs.create_queue(QueueName=cfg.queue(queue.dlq_name),
                                   Attributes=queue_attributes(queue, dead_letter=True))["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        url = sqs.create_queue(QueueName=cfg.queue(queue.name), Attributes={
            **queue_attributes(queue),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                         "maxReceiveCount": str(queue.max_receive_count)}),
        })["QueueUrl"]
        urls[queue.name] = url
        urls[queue.dlq_name] = dlq_url
    s3 = wiring.client("s3")
    buckets = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if cfg.export_bucket not in buckets:
        s3.create_bucket(Bucket=cfg.export_bucket)
    return urls
