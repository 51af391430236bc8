"""The operator's sender commands of `python -m chalicelib.admin`: register-sender, unregister-sender, list-senders."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from chalicelib.core.errors import AppError
from chalicelib.tenancy.senders import SenderKind, SenderRegistry

COMMANDS = ("register-sender", "unregister-sender", "list-senders")
FLAGS = (("--email", SenderKind.EMAIL, "one address, e.g. noreply@shop.example (verified in SES)"),
         ("--email-domain", SenderKind.EMAIL_DOMAIN, "every address at a domain verified in SES"),
         ("--sms-sender-id", SenderKind.SMS, "an SNS SMS sender id (1-11 letters and digits)"))


def add_commands(commands: Any) -> None:
    """Adds the three commands to the admin parser's subparsers."""
    for name, text in zip(COMMANDS, ("bind a sender identity to one merchant (it may then use it in settings)",
                                     "unbind it: sends from it stop within a minute",
                                     "print the merchant's senders as JSON"), strict=True):
        command = commands.add_parser(name, help=text)
        command.add_argument("--merchant", required=True, help="the merchant id (m_…)")
        if name != "list-senders":
            group = command.add_mutually_exclusive_group(required=True)
            for flag, _, about in FLAGS:
                group.add_argument(flag, help=about)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser, registry: SenderRegistry,
        merchant_exists: Any) -> None:
    """One sender command; errors go through parser.error (exit status 2)."""
    try:
        merchant_exists(args.merchant)
        if args.command == "list-senders":
            print(json.dumps([_doc(s) for s in registry.list(args.merchant)]))
            return
        kind, value = next((k, getattr(args, f[2:].replace("-", "_"))) for f, k, _ in FLAGS
                           if getattr(args, f[2:].replace("-", "_")))
        if args.command == "register-sender":
            print(json.dumps(_doc(registry.register(args.merchant, kind, value))))
        else:
            print(json.dumps({"unregistered": registry.unregister(args.merchant, kind, value)}))
    except AppError as exc:
        parser.error(exc.reason)


def _doc(sender: Any) -> dict[str, Any]:
    doc = asdict(sender)
    doc["kind"] = sender.kind.value
    return doc
