"""Outbound address policy: public HTTPS only, checked on the URL at save time and on every resolved address."""

from __future__ import annotations

import ipaddress
import re
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Ranges refused whatever `is_global` says on this interpreter (its answer moved between Python versions):
# addresses that embed or route to an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo), CGNAT, the
# cloud metadata endpoints, multicast and the documentation / benchmark / reserved blocks.
BLOCKED: tuple[Network, ...] = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
    "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
    "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
    "::/96", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/32", "2001:db8::/32",
    "2002::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
))
METADATA = (ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"))
# A DNS name: labels of letters, digits and hyphens (IDNA names arrive as xn-- labels), at least one dot.
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
HOSTNAME = re.compile(rf"^(?:{_LABEL}\.)+{_LABEL}\.?$")
RESOLVE_SECONDS = 2.0
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="egress-dns")


class Refused(ValueError):
    """The URL or the address it resolved to may not be called; the message is for our logs and the API edge."""


@dataclass(frozen=True)
class EgressPolicy:
    """Which addresses outbound calls may reach.

    The product builds only `PUBLIC`. `allowed` is the test-only escape: tests and the local demo, which post to
    a receiver on loopback, inject a policy naming those networks through the wiring (never a setting, an
    environment variable or anything an API call can reach); an allowed literal address may then also use http.
    """

    allowed: tuple[Network, ...] = ()

    @staticmethod
    def allowing(*networks: str) -> EgressPolicy:
        return EgressPolicy(tuple(ipaddress.ip_network(n) for n in networks))

    def permits(self, address: IPAddress) -> bool:
        if any(address in net for net in self.allowed):
            return True
        return is_public(address)


PUBLIC = EgressPolicy()


def is_public(address: IPAddress) -> bool:
    """A globally routable unicast address outside every blocked range (IPv4-mapped IPv6 included)."""
    if address in METADATA or address.is_multicast or not address.is_global:
        return False
    return not any(address.version == net.version and address in net for net in BLOCKED)


@dataclass(frozen=True)
class Target:
    """A checked URL: the name to resolve (and send as SNI / Host), the port, and the request path."""

    scheme: str
    host: str
    port: int
    path: str
    literal: IPAddress | None

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        shown = f"[{self.host}]" if self.literal is not None and self.literal.version == 6 else self.host
        return shown if self.port == default else f"{shown}:{self.port}"


def check_url(url: str, policy: EgressPolicy = PUBLIC) -> Target:
    """Syntax and literal-address checks (no DNS): what PUT /v1/settings refuses at once."""
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise Refused("must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused("is not a valid URL") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise Refused("must be an https:// URL")
    if "@" in parts.netloc:
        raise Refused("must not carry a user name or password")
    host = (parts.hostname or "").lower()
    if not host:
        raise Refused("must name a host")
    literal = _literal(host)
    if literal is not None:
        if not policy.permits(literal):
            raise Refused("must not point at a private, loopback, link-local or reserved address")
    elif not HOSTNAME.match(host) or _numeric(host):
        raise Refused("must name a DNS host or a plain IP address")
    elif host.rstrip(".") == "localhost" or host.rstrip(".").endswith((".localhost", ".local", ".internal")):
        raise Refused("must not point at a local name")
    if scheme == "http" and (literal is None or not any(literal in n for n in policy.allowed)):
        raise Refused("must be an https:// URL")
    if port == 0:
        raise Refused("must not use port 0")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme, host.rstrip("."), port or (443 if scheme == "https" else 80), path, literal)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _numeric(host: str) -> bool:
    """A name ending in a number (127.1, 0x7f.0.0.1, 1.2.3.4.5): resolvers read those as IPv4 addresses."""
    last = host.rstrip(".").rsplit(".", 1)[-1]
    return re.fullmatch(r"0x[0-9a-f]*|[0-9]+", last) is not None


def resolve(target: Target, policy: EgressPolicy = PUBLIC, timeout: float = RESOLVE_SECONDS) -> IPAddress:
    """The address to connect to: every address the name resolves to must be permitted (one bad → refused).

    The caller connects to exactly this address (the name goes only into SNI and Host), so a second resolution
    that answers differently (DNS rebinding) cannot redirect the request.
    """
    if target.literal is not None:
        if not policy.permits(target.literal):
            raise Refused(f"address {target.literal} is not public")
        return target.literal
    future = _resolver.submit(socket.getaddrinfo, target.host, target.port, type=socket.SOCK_STREAM)
    try:
        infos = future.result(timeout=timeout)
    except FutureTimeout as exc:
        raise Refused(f"resolving {target.host} took over {timeout}s") from exc
    except OSError as exc:
        raise Refused(f"{target.host} does not resolve: {exc}") from exc
    addresses: list[IPAddress] = []
    for info in infos:
        found = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if found not in addresses:
            addresses.append(found)
    if not addresses:
        raise Refused(f"{target.host} has no address")
    refused = [str(a) for a in addresses if not policy.permits(a)]
    if refused:
        raise Refused(f"{target.host} resolves to a non-public address ({', '.join(refused)})")
    return addresses[0]
