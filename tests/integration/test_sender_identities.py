"""Sender identities belong to one merchant: registered by the operator CLI, checked on PUT and at every send."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from typing import Any

import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID

from chalicelib.channels.base import Addressee, Message

MESSAGE = Message("cmp1", "run1", "run1:c1", "hello")


def admin(*argv: str) -> tuple[int, str]:
    from chalicelib import admin as cli

    out = io.StringIO()
    with redirect_stdout(out):
        code = cli.main(list(argv))
    return code, out.getvalue()


def put(api: Any, merchant: Any, **fields: Any) -> Any:
    return api.put("/v1/settings", fields, token=merchant.token)


def send_email(merchant: Any) -> Any:
    from chalicelib import wiring
    to = Addressee(merchant.id, "c1", email="c1@example.org", consent={"email": True})
    return wiring.channel_for("email").send([(to, MESSAGE)])[0]


def send_sms(merchant: Any) -> Any:
    from chalicelib import wiring
    to = Addressee(merchant.id, "c1", phone="+8613800001234", consent={"sms": True})
    return wiring.channel_for("sms").send([(to, MESSAGE)])[0]


def test_merchant_a_cannot_put_or_send_as_merchant_b_s_sender(api: Any, merchant: Any, other_merchant: Any,
                                                              clock: Any) -> None:
    """The issue's attack: A names B's verified address as its email_sender."""
    from chalicelib import wiring
    b_address = f"shop-{other_merchant.id.replace('_', '-')}@b-store.example"
    wiring.client("ses").verify_email_identity(EmailAddress=b_address)
    assert admin("register-sender", "--merchant", other_merchant.id, "--email", b_address)[0] == 0
    assert put(api, other_merchant, email_sender=b_address).status == 200
    refused = put(api, merchant, email_sender=b_address)
    assert refused.status == 400 and refused.json["error"]["field"] == "body.email_sender"
    assert api.get("/v1/settings", token=merchant.token).json["email_sender"] is None
    # Nor can the operator hand B's identity to A by mistake: one owner per identity.
    with pytest.raises(SystemExit) as exit_:
        admin("register-sender", "--merchant", merchant.id, "--email", b_address)
    assert exit_.value.code == 2


def test_an_unregistered_sender_already_in_settings_fails_every_send_with_a_code(api: Any, merchant: Any,
                                                                                 clock: Any) -> None:
    """Settings written before the registry existed (or a sender unregistered since) never reach SES."""
    from moto.ses.models import ses_backends

    from chalicelib import wiring
    address = f"news-{merchant.id.replace('_', '-')}@a-store.example"
    wiring.client("ses").verify_email_identity(EmailAddress=address)
    record = wiring.repo("SETTINGS").require(merchant.id, "current")
    wiring.repo("SETTINGS").update(merchant.id, "current", dict(record.data, email_sender=address), clock.now,
                                   expected_version=record.version)
    before = len(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)
    assert (send_email(merchant).ok, send_email(merchant).reason) == (False, "sender_not_registered")
    assert len(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages) == before
    admin("register-sender", "--merchant", merchant.id, "--email", address)
    assert send_email(merchant).ok
    admin("unregister-sender", "--merchant", merchant.id, "--email", address)
    wiring.sender_registry().forget()  # workers notice within a minute; the test does not wait for it
    assert send_email(merchant).reason == "sender_not_registered"


def test_a_registered_domain_covers_its_addresses_only(api: Any, merchant: Any, clock: Any) -> None:
    domain = f"{merchant.id.replace('_', '-')}.example"
    assert admin("register-sender", "--merchant", merchant.id, "--email-domain", domain.upper())[0] == 0
    assert put(api, merchant, email_sender=f"Promo@{domain}").status == 200
    assert put(api, merchant, email_sender=f"promo@evil.{domain}x").status == 400
    code, listed = admin("list-senders", "--merchant", merchant.id)
    assert code == 0 and [(s["kind"], s["value"]) for s in json.loads(listed)] == [("email_domain", domain)]


def test_sms_sender_ids_are_registered_per_merchant_too(api: Any, merchant: Any, other_merchant: Any,
                                                        clock: Any) -> None:
    sender = "SHOP" + merchant.id[-6:].upper().replace("_", "")[:6]
    refused = put(api, merchant, sms_sender_id=sender)
    assert refused.status == 400 and refused.json["error"]["field"] == "body.sms_sender_id"
    assert admin("register-sender", "--merchant", merchant.id, "--sms-sender-id", sender)[0] == 0
    assert put(api, merchant, sms_sender_id=sender).status == 200
    assert send_sms(merchant).ok
    assert put(api, other_merchant, sms_sender_id=sender).status == 400
    admin("unregister-sender", "--merchant", merchant.id, "--sms-sender-id", sender)
    from chalicelib import wiring
    wiring.sender_registry().forget()
    assert send_sms(merchant).reason == "sender_not_registered"


@pytest.mark.parametrize("argv", [["register-sender", "--merchant", "m_nobody", "--email", "a@b.example"],
                                  ["register-sender", "--merchant", "M", "--email", "not-an-address"],
                                  ["register-sender", "--merchant", "M", "--sms-sender-id", "12345"],
                                  ["register-sender", "--merchant", "M"]])
def test_the_cli_refuses_what_it_cannot_register(merchant: Any, argv: list[str]) -> None:
    argv = [merchant.id if a == "M" else a for a in argv]
    with pytest.raises(SystemExit) as exit_:
        admin(*argv)
    assert exit_.value.code == 2
