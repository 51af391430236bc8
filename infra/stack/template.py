"""The merge template: infra/template.yml plus everything derived from code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chalice.package import YAMLTemplateSerializer

from chalicelib.core.resources import QUEUES, TABLES
from infra.stack.access import role_policy
from infra.stack.alarms import alarm_resources
from infra.stack.api import access_log_group, api_override
from infra.stack.data import STREAM_DLQ, data_resources, queue_id, table_id
from infra.stack.functions import FUNCTIONS, RUNTIME, function_override, log_group, log_group_id, role_id
from infra.stack.functions import function_id as fid
from infra.stack.params import CONDITIONS, PARAMETERS, att, ref

ROOT = Path(__file__).resolve().parents[2]


def outputs() -> dict[str, Any]:
    """What an operator needs after a deploy: the admin CLI reads the table names from here (--stack)."""
    out: dict[str, Any] = {f"{table_id(t.name)}Name": {"Value": ref(table_id(t.name))} for t in TABLES}
    for queue in QUEUES:
        out[f"{queue_id(queue.name)}Url"] = {"Value": ref(queue_id(queue.name))}
        out[f"{queue_id(queue.dlq_name)}Url"] = {"Value": ref(queue_id(queue.dlq_name))}
        out[f"{queue_id(queue.dlq_name)}Arn"] = {"Value": att(queue_id(queue.dlq_name))}
    out[f"{queue_id(STREAM_DLQ)}Url"] = {"Value": ref(queue_id(STREAM_DLQ))}
    out["ActivityStreamArn"] = {"Value": att(table_id("activity"), "StreamArn")}
    out["ActivityStreamFunctionName"] = {"Value": ref(fid("activity_stream"))}
    out["ExportBucketName"] = {"Value": ref("ExportBucket")}
    return out


def merge_template() -> dict[str, Any]:
    """infra/template.yml plus tables, queues, roles, functions, log groups, alarms and API settings."""
    template: dict[str, Any] = YAMLTemplateSerializer().load_template((ROOT / "infra" / "template.yml").read_text())
    template["Parameters"] = dict(PARAMETERS)
    template["Conditions"] = dict(CONDITIONS)
    resources = template.setdefault("Resources", {})
    resources.update(data_resources())
    for function in FUNCTIONS:
        resources[fid(function)] = function_override(function)
        resources[log_group_id(function)] = log_group(function)
        policy = role_policy(function, log_group_id(function))
        resources[role_id(function)] = {"Properties": {"Policies": [
            {"PolicyName": f"{role_id(function)}Policy", "PolicyDocument": policy}]}}
    resources["ManagedLayer"] = {"Properties": {"CompatibleRuntimes": [RUNTIME]}}
    resources["RestAPI"] = api_override()
    resources["ApiAccessLogGroup"] = access_log_group()
    resources.update(alarm_resources())
    template.setdefault("Outputs", {}).update(outputs())
    return template
