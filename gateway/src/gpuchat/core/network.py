"""Who is on the other end of the socket, believing X-Forwarded-For only from our proxies."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from starlette.requests import HTTPConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def parse_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def peer_in(connection: HTTPConnection, networks: tuple[Network, ...]) -> bool:
    """Whether the socket peer (never a forwarded address) is in one of `networks`."""
    peer = connection.client.host if connection.client else ""
    return _trusted(peer, networks)


def client_address(connection: HTTPConnection, trusted_proxies: list[str]) -> str:
    """The client's address. When the peer is a trusted proxy, walk X-Forwarded-For from
    the right and take the first address that is not one of our proxies."""
    peer = connection.client.host if connection.client else "unknown"
    networks = parse_networks(tuple(trusted_proxies))
    if not networks or not _trusted(peer, networks):
        return peer
    forwarded = connection.headers.get("x-forwarded-for", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop
    return peer
