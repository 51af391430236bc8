"""Webhook SSRF: public HTTPS only at PUT time, every resolved address checked at send time, the checked one used."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.channels.base import Addressee, Message
from chalicelib.channels.webhook import WEBHOOK_FAILED, WebhookChannel
from chalicelib.core.egress import PUBLIC, EgressPolicy, Refused, check_url, is_public
from tests.support.receivers import SECRET, Hook

ISSUE_EXAMPLES = ["http://localhost.evil", "https://169.254.169.254", "https://10.0.0.5", "https://[::1]",
                  "http://127.0.0.1:9001"]
MORE = ["https://[fd00:ec2::254]/latest", "https://[::ffff:127.0.0.1]/", "https://[::ffff:a9fe:a9fe]/",
        "https://100.64.1.1/", "https://192.168.1.10/", "https://172.16.0.1/", "https://[fe80::1]/",
        "https://[fc00::1]/", "https://224.0.0.1/", "https://0.0.0.0/", "https://127.1/", "https://2130706433/",
        "https://0x7f.0.0.1/", "https://localhost/", "https://a.localhost/", "https://user:pw@example.com/hook",
        "https://example.com@10.0.0.5/", "ftp://example.com/", "https:///nohost", "https://exa mple.com/",
        "https://[64:ff9b::a00:5]/", "https://[2002:a00:5::]/", "https://metadata.google.internal/",
        "http://example.com/hook"]


@pytest.mark.parametrize("url", ISSUE_EXAMPLES + MORE)
def test_put_settings_refuses_a_webhook_url_that_is_not_public_https(api: Any, merchant: Any, url: str) -> None:
    answer = api.put("/v1/settings", {"webhook_url": url, "webhook_secret": SECRET}, token=merchant.token)
    assert answer.status == 400, (url, answer.text)
    assert answer.json["error"]["field"] == "body.webhook_url"
    assert api.get("/v1/settings", token=merchant.token).json["webhook_url"] is None  # nothing half-stored


@pytest.mark.parametrize("url", ["https://hooks.example.com/marketing?x=1", "https://8.8.8.8:8443/h",
                                 "https://[2606:4700:4700::1111]/h"])
def test_put_settings_accepts_public_https(api: Any, merchant: Any, url: str) -> None:
    answer = api.put("/v1/settings", {"webhook_url": url, "webhook_secret": SECRET}, token=merchant.token)
    assert answer.status == 200, answer.text


def test_public_address_check_covers_every_special_range() -> None:
    refused = ["127.0.0.1", "10.1.2.3", "172.31.0.1", "192.168.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
               "224.0.0.251", "255.255.255.255", "198.18.0.1", "::1", "::", "fe80::1", "fd00:ec2::254", "fc00::1",
               "ff02::1", "::ffff:8.8.8.8", "::ffff:127.0.0.1", "64:ff9b::808:808", "2002:808:808::1", "2001::1",
               "2001:db8::1", "192.0.0.9", "192.88.99.1"]
    assert [a for a in refused if is_public(ipaddress.ip_address(a))] == []
    assert all(is_public(ipaddress.ip_address(a)) for a in ["8.8.8.8", "93.184.216.34", "2606:4700::1111"])


def test_the_test_escape_admits_only_the_named_networks() -> None:
    loopback = EgressPolicy.allowing("127.0.0.1/32")
    assert check_url("http://127.0.0.1:9001/h", loopback).port == 9001
    for url in ["http://127.0.0.2:9001/h", "http://10.0.0.5/", "http://localhost.evil/"]:
        with pytest.raises(Refused):
            check_url(url, loopback)
    with pytest.raises(Refused):
        check_url("http://127.0.0.1:9001/h", PUBLIC)


class Net:
    """getaddrinfo and create_connection under the test's control: names resolve as scripted, connects recorded."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.answers: dict[str, list[list[str]]] = {}
        self.resolved: list[str] = []
        self.connects: list[tuple[str, int]] = []
        self.route: dict[str, tuple[str, int]] = {}  # (address) → where the connection really goes
        real_getaddrinfo, real_connect = socket.getaddrinfo, socket.create_connection

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if host not in self.answers:
                return real_getaddrinfo(host, port, *args, **kwargs)
            self.resolved.append(str(host))
            script = self.answers[host]
            addresses = script.pop(0) if len(script) > 1 else script[0]
            return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                    for a in addresses]

        def create_connection(address: Any, *args: Any, **kwargs: Any) -> Any:
            self.connects.append((str(address[0]), int(address[1])))
            return real_connect(self.route.get(str(address[0]), address), *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        monkeypatch.setattr(socket, "create_connection", create_connection)


@pytest.fixture
def net(monkeypatch: pytest.MonkeyPatch) -> Iterator[Net]:
    yield Net(monkeypatch)


def send_one(merchant: Any, policy: EgressPolicy = PUBLIC, tls: Any = None) -> Any:
    from chalicelib import wiring
    adapter = WebhookChannel(wiring.merchant_settings, wiring.clock(), policy=policy, sleep=lambda _: None,
                             deadline=2.0, tls=tls)
    message = Message("cmp1", "run1", "run1:c1", "hello")
    return adapter.send([(Addressee(merchant.id, "c1", consent={"webhook": True}), message)])[0]


def store_url(merchant: Any, url: str) -> None:
    """Settings written as an older build (or a direct write) left them: the send must not trust them."""
    from chalicelib import wiring
    record = wiring.repo("SETTINGS").require(merchant.id, "current")
    data = dict(record.data, webhook_url=url, webhook_secret=SECRET)
    wiring.repo("SETTINGS").update(merchant.id, "current", data, wiring.now(), expected_version=record.version)


@pytest.mark.parametrize("address", ["10.0.0.5", "127.0.0.1", "169.254.169.254", "::1", "fd00:ec2::254",
                                     "::ffff:10.0.0.5", "100.64.0.7"])
def test_send_refuses_a_name_that_resolves_to_a_private_address(api: Any, merchant: Any, clock: Any, net: Net,
                                                                 address: str) -> None:
    assert api.put("/v1/settings", {"webhook_url": "https://hooks.example.com/h", "webhook_secret": SECRET},
                   token=merchant.token).status == 200
    net.answers["hooks.example.com"] = [[address]]
    outcome = send_one(merchant)
    assert (outcome.ok, outcome.reason, outcome.retry_at) == (False, WEBHOOK_FAILED, None)
    assert net.resolved == ["hooks.example.com"] and net.connects == []


def test_send_refuses_a_name_when_any_of_its_addresses_is_private(api: Any, merchant: Any, clock: Any,
                                                                  net: Net) -> None:
    store_url(merchant, "https://hooks.example.com/h")
    net.answers["hooks.example.com"] = [["93.184.216.34", "10.0.0.5"]]
    assert send_one(merchant).reason == WEBHOOK_FAILED and net.connects == []


@pytest.mark.parametrize("url", ISSUE_EXAMPLES)
def test_send_refuses_a_stored_url_that_would_not_pass_today(api: Any, merchant: Any, clock: Any, net: Net,
                                                             url: str) -> None:
    store_url(merchant, url)
    outcome = send_one(merchant)
    assert (outcome.ok, outcome.reason) == (False, WEBHOOK_FAILED) and net.connects == []


def test_the_post_goes_to_the_checked_address_with_the_name_in_sni_and_host(api: Any, merchant: Any, clock: Any,
                                                                            net: Net) -> None:
    """DNS rebinding: the name answers a public address for the check, then loopback; only the first is used."""
    receiver = Hook(tls_name="hooks.example.com")
    try:
        url = f"https://hooks.example.com:{receiver.port}/h"
        assert api.put("/v1/settings", {"webhook_url": url, "webhook_secret": SECRET},
                       token=merchant.token).status == 200
        net.answers["hooks.example.com"] = [["93.184.216.34"], ["127.0.0.1"]]
        net.route["93.184.216.34"] = ("127.0.0.1", receiver.port)  # the "public" host is our TLS receiver
        outcome = send_one(merchant, tls=receiver.client_context)
        assert outcome.ok, outcome
        assert net.resolved == ["hooks.example.com"] and net.connects == [("93.184.216.34", receiver.port)]
        assert receiver.sni == ["hooks.example.com"]
        assert receiver.requests[0]["host"] == f"hooks.example.com:{receiver.port}" and receiver.requests[0]["valid"]
    finally:
        receiver.close()


def test_the_loopback_escape_is_wiring_only(api: Any, merchant: Any) -> None:
    """Nothing in the API turns it on: the default policy is PUBLIC and settings have no such field."""
    from chalicelib import wiring
    assert wiring.egress_policy() == PUBLIC
    answer = api.put("/v1/settings", {"webhook_url": "http://127.0.0.1:9001/h", "egress": ["127.0.0.1/32"]},
                     token=merchant.token)
    assert answer.status == 400
