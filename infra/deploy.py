"""`make deploy`: ship build/sam.json (made by `make package`) to CloudFormation as one change set.

What `aws cloudformation package` + `deploy` would do, with the project's own boto3 (no other tool to install):
upload the zips under content-addressed keys and the template (over the 51,200-byte inline limit) to an S3
bucket of yours, create a change set (CREATE for a new stack, UPDATE after), print what it changes, execute it,
wait, and print the stack's outputs. CloudFormation runs the SAM transform (CAPABILITY_AUTO_EXPAND); a new stack
gets termination protection. `transformed=True` hands over the locally transformed template instead, for
CloudFormations that run no transform (moto: tests/deploy).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from infra.package import BUILD, DEPLOY_PYTHON, ROOT, with_artifacts

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
Adjust = Callable[[dict[str, Any]], dict[str, Any]]  # what a CloudFormation emulator cannot take, taken out


def _upload(s3: Any, bucket: str, key: str, body: bytes) -> None:
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return  # content-addressed: the same key is the same bytes
    except s3.exceptions.ClientError:
        s3.put_object(Bucket=bucket, Key=key, Body=body)


def _stack_status(cfn: Any, stack: str) -> str | None:
    try:
        return str(cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"])
    except cfn.exceptions.ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise


def upload(s3: Any, bucket: str, transformed: bool = False, adjust: Adjust | None = None) -> str:
    """Upload the zips and the template; returns the template's URL."""
    keys: dict[str, str] = json.loads((BUILD / "artifacts.json").read_text())
    for name, key in keys.items():
        _upload(s3, bucket, key, (BUILD / name).read_bytes())
    template = with_artifacts(json.loads((BUILD / "sam.json").read_text()), bucket, keys)
    if transformed:
        staged, out = BUILD / "deploy-sam.json", BUILD / "deploy-cfn.json"
        staged.write_text(json.dumps(template))
        subprocess.run([str(DEPLOY_PYTHON), str(ROOT / "infra" / "transform.py"), str(staged), str(out),
                        f"AWS::Region={s3.meta.region_name}"], check=True)
        template = json.loads(out.read_text())
    if adjust is not None:
        template = adjust(template)
    body = json.dumps(template).encode()
    key = f"precision-marketing/{hashlib.sha256(body).hexdigest()[:20]}-template.json"
    _upload(s3, bucket, key, body)
    return f"https://{bucket}.s3.{s3.meta.region_name}.amazonaws.com/{key}"


def deploy(cfn: Any, s3: Any, stack: str, bucket: str, parameters: dict[str, str], *, execute: bool = True,
           transformed: bool = False, adjust: Adjust | None = None, protect: bool = True) -> dict[str, str]:
    """Create and (unless told not to) execute one change set; returns the stack's outputs."""
    url = upload(s3, bucket, transformed, adjust)
    status = _stack_status(cfn, stack)
    if status == "REVIEW_IN_PROGRESS" or status is None:
        kind = "CREATE"
    elif status.endswith("_COMPLETE") and not status.startswith("DELETE"):
        kind = "UPDATE"
    else:
        raise SystemExit(f"stack {stack} is {status}: fix or delete it first (README, Tearing down)")
    name = f"deploy-{time.strftime('%Y%m%d-%H%M%S')}"
    cfn.create_change_set(StackName=stack, ChangeSetName=name, ChangeSetType=kind, TemplateURL=url,
                          Capabilities=CAPABILITIES, Parameters=[
                              {"ParameterKey": k, "ParameterValue": v} for k, v in sorted(parameters.items())])
    described = cfn.describe_change_set(StackName=stack, ChangeSetName=name)
    while described["Status"] in ("CREATE_PENDING", "CREATE_IN_PROGRESS"):
        time.sleep(5)
        described = cfn.describe_change_set(StackName=stack, ChangeSetName=name)
    if described["Status"] == "FAILED":
        if "didn't contain changes" in described.get("StatusReason", ""):
            print(f"{stack}: no changes")
            return outputs(cfn, stack)
        raise SystemExit(f"change set {name} failed: {described.get('StatusReason')}")
    for change in described.get("Changes", []):
        rc = change.get("ResourceChange", {})
        replaces = f"  (replacement: {rc['Replacement']})" if rc.get("Replacement") in ("True", "Conditional") else ""
        print(f"  {rc.get('Action', '?'):8} {rc.get('ResourceType', '?'):36} {rc.get('LogicalResourceId')}{replaces}")
    if not execute:
        print(f"change set {name} created, not executed (review it in the console or execute it there)")
        return {}
    cfn.execute_change_set(StackName=stack, ChangeSetName=name)
    waiter = "stack_create_complete" if kind == "CREATE" else "stack_update_complete"
    cfn.get_waiter(waiter).wait(StackName=stack, WaiterConfig={"Delay": 15, "MaxAttempts": 240})
    if kind == "CREATE" and protect:  # moto has no UpdateTerminationProtection
        cfn.update_termination_protection(StackName=stack, EnableTerminationProtection=True)
    return outputs(cfn, stack)


def outputs(cfn: Any, stack: str) -> dict[str, str]:
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy", description=__doc__.splitlines()[0])
    parser.add_argument("--stage", required=True, help="the Stage parameter (dev, prod, ...)")
    parser.add_argument("--bucket", required=True, help="an S3 bucket of yours, in the stack's region")
    parser.add_argument("--alarm-topic", required=True, help="ARN of the SNS topic the alarms notify")
    parser.add_argument("--stack", help="stack name (default: <name-prefix>-<stage>)")
    parser.add_argument("--name-prefix", default="mkt")
    parser.add_argument("--region", help="default: the AWS CLI/boto3 configuration's")
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE",
                        help="another template parameter (LogRetentionDays, ApiThrottleRateLimit, ...)")
    parser.add_argument("--no-execute", action="store_true", help="create the change set, do not execute it")
    args = parser.parse_args(argv)
    import boto3

    session = boto3.Session(region_name=args.region)
    parameters = {"Stage": args.stage, "NamePrefix": args.name_prefix, "AlarmTopicArn": args.alarm_topic,
                  **dict(p.split("=", 1) for p in args.parameter)}
    stack = args.stack or f"{args.name_prefix}-{args.stage}"
    out = deploy(session.client("cloudformation"), session.client("s3"), stack, args.bucket, parameters,
                 execute=not args.no_execute)
    for key, value in sorted(out.items()):
        print(f"{key:40} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
