"""`python -m infra.summary`: what the packaged stack holds (build/cfn.json, after `make package`), for the operator
who reviews it: resources by type, and each function's role, action by action, on what.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

BUILD = Path(__file__).resolve().parent.parent / "build"


def _target(resource: Any) -> str:
    """A policy statement's resource, by logical id where the template refers to one."""
    if isinstance(resource, list):
        return ", ".join(_target(r) for r in resource)
    if isinstance(resource, dict):
        if "Fn::GetAtt" in resource:
            name, attribute = resource["Fn::GetAtt"]
            return name if attribute == "Arn" else f"{name}.{attribute}"
        if "Fn::Sub" in resource:
            text = resource["Fn::Sub"]
            return str(text[0] if isinstance(text, list) else text).replace("arn:${AWS::Partition}:", "")
        if "Ref" in resource:
            return str(resource["Ref"])
    return str(resource)


def role_actions(template: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    """Each function's logical id -> action -> the resources its role allows it on."""
    resources = template["Resources"]
    out: dict[str, dict[str, list[str]]] = {}
    for name, resource in sorted(resources.items()):
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        role = resources[resource["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]
        actions: dict[str, list[str]] = defaultdict(list)
        for policy in role.get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                verbs = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                for verb in verbs:
                    actions[verb].append(_target(statement["Resource"]))
        actions.update({f"managed policy {arn}": [] for arn in role.get("ManagedPolicyArns", [])})
        out[name] = dict(sorted(actions.items()))
    return out


def main() -> int:
    template = json.loads((BUILD / "cfn.json").read_text())
    types = Counter(r["Type"] for r in template["Resources"].values())
    print("resources: " + ", ".join(f"{t} {n}" for t, n in sorted(types.items())))
    for function, actions in role_actions(template).items():
        print(f"\n{function} ({len(actions)} actions)")
        for verb, targets in actions.items():
            print(f"  {verb:32} {'; '.join(targets)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
