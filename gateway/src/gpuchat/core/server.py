"""How the gateway's HTTP server (uvicorn) is run: its limits, set here and nowhere else.

Without nginx in front (development, the gateway image, a pod behind a plain TCP load
balancer), uvicorn itself faces clients, and by default it waits forever for a request's
headers and takes headers of any size: a client that trickles a header byte at a time
holds a connection (and a `limit_concurrency` slot) for good. `GuardedHttpToolsProtocol`
adds the two limits it lacks: the headers of each request must arrive within
`HEADER_TIMEOUT_SECONDS` (408, connection closed) and fit in the configured size (431).
Keep-alive, concurrency and the header size come from the settings (`http_*`).
`X-Forwarded-For` is read by the gateway itself from `GPUCHAT_TRUSTED_PROXIES`, never by
uvicorn (whose default trusts 127.0.0.1 and rewrites the client address before us).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gpuchat.core.config import Settings

_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-length: 0\r\nconnection: close\r\n\r\n"
)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    HEADER_TIMEOUT_SECONDS = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._max_header_bytes: int = self.config.h11_max_incomplete_event_size or 16 * 1024
        self._header_bytes = 0
        self._reading_headers = True
        self._header_deadline: asyncio.TimerHandle | None = None
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        if self._reading_headers:
            if self._header_deadline is None:  # the next request on a kept-alive connection
                self._arm_header_deadline()
            end = data.find(b"\r\n\r\n")
            self._header_bytes += end + 4 if end >= 0 else len(data)
            if self._header_bytes > self._max_header_bytes:
                self._refuse(_TOO_LARGE)
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._reading_headers = False
        self._header_bytes = 0
        self._cancel_header_deadline()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        self._reading_headers = True  # what comes next is another request's headers
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        self._header_deadline = self.loop.call_later(
            self.HEADER_TIMEOUT_SECONDS, self._refuse, _TIMEOUT
        )

    def _cancel_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _refuse(self, answer: bytes) -> None:
        self._cancel_header_deadline()
        if not self.transport.is_closing():
            self.transport.write(answer)
            self.transport.close()


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's keyword arguments for the gateway, every limit explicit."""
    return {
        "http": GuardedHttpToolsProtocol,
        "h11_max_incomplete_event_size": settings.http_max_header_bytes,
        "timeout_keep_alive": settings.http_keepalive_seconds,
        "limit_concurrency": settings.http_max_concurrency,
        "backlog": 2048,
        "proxy_headers": False,
        "server_header": False,
        "access_log": False,
    }
