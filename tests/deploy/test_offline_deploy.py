"""The packaged stack deployed into moto's CloudFormation runs its story on the resources the stack created."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core.resources import TABLES
from infra.stack.access import ACCESS
from infra.stack.functions import FUNCTIONS
from tests.deploy import audit

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
# What moto's CloudFormation cannot create (the rest of the template is checked in test_package.py):
SKIPPED = ["AWS::ApiGateway::Stage", "AWS::CloudWatch::Alarm", "AWS::S3::BucketPolicy"]  # moto warns, skips
REMOVED = ["AWS::ApiGateway::Deployment"]  # moto's RestApi ignores the swagger body; its Deployment then fails


@pytest.fixture(scope="module")
def story(built: Path) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "tests.deploy.stack_story"], cwd=ROOT, capture_output=True,
                          text=True, timeout=900, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("REPORT ")]
    assert done.returncode == 0 and lines, done.stdout[-3000:] + done.stderr[-3000:]
    report: dict[str, Any] = json.loads(lines[-1].removeprefix("REPORT "))
    return report


def test_offline_deploy_creates_every_resource_moto_supports_when_the_stack_is_created(story):
    assert story["skipped_types"] == SKIPPED and story["removed_types"] == REMOVED
    created = story["created_types"]
    assert created["AWS::DynamoDB::Table"] == len(TABLES)
    assert created["AWS::Lambda::Function"] == created["AWS::IAM::Role"] == len(FUNCTIONS)
    assert created["AWS::Logs::LogGroup"] == len(FUNCTIONS) + 1  # one per function and the API's access log
    assert (created["AWS::SQS::Queue"], created["AWS::Lambda::EventSourceMapping"]) == (5, 3)
    assert {"AWS::Events::Rule", "AWS::Lambda::LayerVersion", "AWS::S3::Bucket", "AWS::ApiGateway::RestApi",
            "AWS::Lambda::Permission"} <= set(created)


def test_offline_deploy_tells_each_function_its_own_resources_through_the_environment_when_deployed(story):
    for name, variables in story["environments"].items():
        function = next(f for f in FUNCTIONS if name.endswith(f.replace("_", "-")))
        assert {v[10:].lower() for v in variables if v.startswith("MKT_TABLE_")} == set(ACCESS[function].tables)
    assert story["admin_environment_matches"] is True  # the admin CLI finds the same tables through --stack


def test_offline_deploy_runs_the_story_through_the_stacks_queues_stream_and_mappings_when_deployed(story):
    assert story["handler_failures"] == []
    assert set(story["invocations"]) == {f"mkt-story-{f.replace('_', '-')}" for f in (
        "tick", "plan_worker", "dispatch_worker", "activity_stream")}  # moto's mappings invoked each worker
    assert [m[2] for m in story["mappings"]] == ["Enabled"] * 3
    progress = story["progress"]
    assert (progress["targeted"], progress["succeeded"], progress["pending"]) == (12, 12, 0)
    assert (story["run_status"], story["campaign_status"], story["coupons_held"]) == ("complete", "ended", 1)
    assert (story["report_revenue"]["orders"], story["report_revenue"]["gmv_fen"]) == (1, 6800)  # attributed
    assert story["report_funnel"]["paid"] == 1
    items = story["table_items"]
    assert all(items[t] > 0 for t in ("definitions", "keys", "customers", "activity", "dispatch", "wallet", "stats"))
    assert set(story["queue_messages"].values()) == {0}  # drained, nothing in a DLQ


def test_offline_deploy_makes_only_calls_each_functions_role_allows_when_the_story_runs(story):
    calls = {tuple(c) for c in story["calls"]}
    assert {c[0] for c in calls} == set(FUNCTIONS)
    assert story["violations"] == []
    assert story["unauthenticated_status"] in (401, 403)


def test_audit_flags_a_call_the_role_does_not_allow_when_one_is_recorded():
    """The check above can fail: a worker writing keys, an index or queue not granted, an unknown service."""
    assert audit.violations({("activity_stream", "dynamodb:PutItem", "stats"), ("tick", "sqs:SendMessage", "plan"),
                             ("api_key_authorizer", "dynamodb:GetItem", "keys")}) == []
    bad = {("tick", "dynamodb:PutItem", "keys"), ("api_key_authorizer", "dynamodb:PutItem", "keys"),
           ("tick", "dynamodb:Query", "wallet/index/gsi1"), ("activity_stream", "sqs:SendMessage", "dispatch"),
           ("plan_worker", "sqs:GetQueueUrl", "plan"), ("dispatch_worker", "cloudwatch:PutMetricData", "")}
    assert audit.violations(bad) == sorted(bad)
