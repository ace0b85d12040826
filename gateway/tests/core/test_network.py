"""X-Forwarded-For is believed only from configured proxies."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from gpuchat.core.network import client_address


def _connection(peer: str, forwarded: str | None) -> HTTPConnection:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return HTTPConnection({"type": "http", "client": (peer, 1234), "headers": headers})


def test_client_address_ignores_forwarded_for_from_untrusted_peer() -> None:
    assert client_address(_connection("203.0.113.5", "1.2.3.4"), []) == "203.0.113.5"
    assert client_address(_connection("203.0.113.5", "1.2.3.4"), ["10.0.0.0/8"]) == "203.0.113.5"


def test_client_address_takes_first_untrusted_hop_from_the_right() -> None:
    connection = _connection("10.0.0.2", "6.6.6.6, 198.51.100.7, 10.0.0.9")
    assert client_address(connection, ["10.0.0.0/8"]) == "198.51.100.7"
    assert client_address(_connection("10.0.0.2", None), ["10.0.0.0/8"]) == "10.0.0.2"
