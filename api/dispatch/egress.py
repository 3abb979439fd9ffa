"""Where webhooks may go: https URLs whose every resolved address is public (SSRF rules).

Python's `is_global` is True for NAT64 (64:ff9b::/96) and 6to4 (2002::/16) forms that wrap a
private IPv4 address, so those are unwrapped and the embedded address is judged instead.
The allow-list matches resolved addresses only, never host names.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from api.errors import Invalid

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")
SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")


class Blocked(Exception):
    """The destination is not allowed; `field` errors name `url`."""


@dataclass(frozen=True, slots=True)
class Egress:
    allow_nets: tuple[IPNetwork, ...] = ()
    allow_http: bool = False

    @classmethod
    def parse(cls, nets: tuple[str, ...], allow_http: bool) -> Egress:
        return cls(tuple(ipaddress.ip_network(n, strict=False) for n in nets), allow_http)


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[IPAddress, ...]


def is_public(ip: IPAddress) -> bool:
    """True only for globally routable unicast addresses, looking inside IPv6 wrappers."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return is_public(ip.ipv4_mapped)
        if ip in NAT64:
            return is_public(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip in SIX_TO_FOUR:
            return is_public(ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF))
        if ip in LOCAL_NAT64 or ip.teredo is not None:
            return False
    return bool(
        ip.is_global
        and not (ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local)
        and not ip.is_unspecified
    )


def allowed(ip: IPAddress, egress: Egress) -> bool:
    return is_public(ip) or any(ip in net for net in egress.allow_nets if ip.version == net.version)


def split(url: str, egress: Egress) -> SplitResult:
    """The URL's parts, if its form is acceptable; Blocked naming the problem otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Blocked("Not a valid URL.") from None
    schemes = ("https", "http") if egress.allow_http else ("https",)
    if parts.scheme not in schemes:
        raise Blocked("Must be an https URL.")
    if not parts.hostname:
        raise Blocked("Must name a host.")
    if parts.username or parts.password:
        raise Blocked("Must not carry credentials.")
    if port == 0:
        raise Blocked("Must not use port 0.")
    return parts


def resolve(url: str, egress: Egress) -> Target:
    """Resolve the host and check every address; Blocked unless all are allowed."""
    parts = split(url, egress)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise Blocked(f"The host {host!r} does not resolve.") from None
    addresses: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not allowed(ip, egress):
            raise Blocked(f"The host {host!r} resolves to {ip}, which is not a public address.")
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise Blocked(f"The host {host!r} does not resolve.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port, path, tuple(addresses))


def check_url(url: str, egress: Egress) -> Target:
    """For a subscription being saved: a 422 naming `url` when it may not be used."""
    try:
        return resolve(url, egress)
    except Blocked as exc:
        raise Invalid("The webhook URL cannot be used.", {"url": [str(exc)]}) from None
