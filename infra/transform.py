"""The SAM transform CloudFormation runs (aws-sam-translator), offline: SAM template in, CloudFormation out.

Runs in the deploy tools' venv (.venv-deploy: the translator pins a pydantic the app does not use), so it imports
nothing of ours: `python infra/transform.py IN OUT [Name=Value ...]`. Managed policy ARNs are never looked up
(the template names none), so no AWS account is needed.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def transform(template: dict[str, Any], parameters: dict[str, str], region: str) -> dict[str, Any]:
    """The CloudFormation template CloudFormation would make of `template` (raises on what it would reject)."""
    os.environ.setdefault("AWS_DEFAULT_REGION", region)  # the translator reads the region through boto3
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.translator.transform import transform as sam_transform

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    try:
        out: dict[str, Any] = sam_transform(template, dict(parameters), NoManagedPolicies())
    except InvalidDocumentException as exc:
        raise SystemExit("SAM transform failed:\n" + "\n".join(f"  {e.message}" for e in exc.causes)) from None
    return out


def main(argv: list[str]) -> int:
    source, target, *pairs = argv
    parameters = dict(p.split("=", 1) for p in pairs)
    region = parameters.pop("AWS::Region", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    with open(source) as f:
        template = json.load(f)
    with open(target, "w") as f:
        json.dump(transform(template, parameters, region), f, indent=2, sort_keys=True)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
