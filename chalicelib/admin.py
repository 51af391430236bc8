"""Operator CLI: `python -m chalicelib.admin [--stack NAME] create-merchant | create-key | revoke-key`, and the
sender commands `register-sender | unregister-sender | list-senders --merchant M [--email A | --email-domain D |
--sms-sender-id S]`.

Runs with the operator's own AWS credentials (the functions' roles cannot write API keys). Against a deployed
stage, `--stack` reads the physical table names from the stack (CloudFormation names them); without it the names
come from the environment (MKT_TABLE_*, else MKT_PREFIX-<table>, as the local stack makes them).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from chalicelib import wiring
from chalicelib.core.auth import Role
from chalicelib.core.errors import AppError
from chalicelib.core.stacknames import stack_environment
from chalicelib.tenancy import senders_cli
from chalicelib.tenancy.model import check_timezone

ROLES = ("admin", "operator", "staff", "readonly")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.admin")
    parser.add_argument("--stack", help="the deployed stage's CloudFormation stack (e.g. mkt-prod)")
    parser.add_argument("--region", help="the stack's region (default: your AWS configuration's)")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-merchant", help="create a merchant and print its first admin key")
    create.add_argument("--name", required=True)
    create.add_argument("--timezone", default="Asia/Shanghai")
    key = commands.add_parser("create-key", help="issue a key (e.g. an admin key for a merchant that lost its own)")
    key.add_argument("--merchant", required=True)
    key.add_argument("--role", choices=ROLES, default="admin")
    key.add_argument("--staff-id")
    key.add_argument("--label", default="issued by an operator")
    revoke = commands.add_parser("revoke-key", help="revoke a key at once (e.g. a leaked one)")
    revoke.add_argument("--merchant", required=True)
    revoke.add_argument("--key-id", required=True)
    senders_cli.add_commands(commands)
    return parser


def _use_stack(stack: str, region: str | None, argv: list[str]) -> None:
    """The stores took their table names from the environment when imported: with the stack's names not yet there,
    run again with them (same arguments), so every store points at the stack's tables."""
    import boto3

    names = stack_environment(boto3.client("cloudformation", region_name=region), stack)
    if any(os.environ.get(k) != v for k, v in names.items()):
        env = {**os.environ, **names, **({"AWS_DEFAULT_REGION": region} if region else {})}
        os.execve(sys.executable, [sys.executable, "-m", "chalicelib.admin", *argv], env)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = _parser()
    args = parser.parse_args(argv)
    if args.stack:
        _use_stack(args.stack, args.region, argv)
    service = wiring.tenancy_service()
    if args.command in senders_cli.COMMANDS:
        senders_cli.run(args, parser, wiring.sender_registry(), service.merchant)
        return 0
    try:
        if args.command == "create-merchant":
            try:
                check_timezone(args.timezone)
            except ValueError as exc:
                parser.error(str(exc))
            merchant, issued = service.create_merchant(args.name, args.timezone)
            print(json.dumps({"merchant_id": merchant.merchant_id, "api_key": issued.token}))
        elif args.command == "create-key":
            service.merchant(args.merchant)  # NotFound for a merchant id that does not exist
            issued = service.create_key(args.merchant, Role(args.role), staff_id=args.staff_id, label=args.label)
            print(json.dumps({"merchant_id": args.merchant, "key_id": issued.key.key_id, "api_key": issued.token}))
        else:
            key = service.revoke_key(args.merchant, args.key_id, caller_key_id="")
            print(json.dumps({"merchant_id": args.merchant, "key_id": key.key_id, "revoked_at": key.revoked_at}))
    except AppError as exc:
        print(f"{exc.field or 'error'}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
