"""Operator CLI: `python -m chalicelib.admin create-merchant --name N [--timezone TZ]`."""

from __future__ import annotations

import argparse
import json
import sys

from chalicelib import wiring
from chalicelib.tenancy.model import check_timezone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.admin")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-merchant", help="create a merchant and print its first admin key")
    create.add_argument("--name", required=True)
    create.add_argument("--timezone", default="Asia/Shanghai")
    args = parser.parse_args(argv)
    if args.command == "create-merchant":
        try:
            check_timezone(args.timezone)
        except ValueError as exc:
            parser.error(str(exc))
        merchant, issued = wiring.tenancy_service().create_merchant(args.name, args.timezone)
        print(json.dumps({"merchant_id": merchant.merchant_id, "api_key": issued.token}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
