"""The physical table names a deployed stack gave (CloudFormation names them), as the functions' environment holds."""

from __future__ import annotations

from typing import Any

from chalicelib.core.config import table_variable
from chalicelib.core.resources import TABLES, logical_id


def stack_environment(cloudformation: Any, stack: str) -> dict[str, str]:
    """MKT_TABLE_* of every table the stack made, from its resources."""
    pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack)
    physical = {r["LogicalResourceId"]: r.get("PhysicalResourceId") for page in pages
                for r in page["StackResourceSummaries"] if "LogicalResourceId" in r}
    missing = [t.name for t in TABLES if logical_id(t.name, "Table") not in physical]
    if missing:
        raise SystemExit(f"stack {stack} has no table {', '.join(missing)}: is it this project's stack?")
    return {table_variable(t.name): physical[logical_id(t.name, "Table")] for t in TABLES}
