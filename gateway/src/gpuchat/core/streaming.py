"""A streaming response that always runs its cleanup.

Starlette may never start a response's body generator (the client left before the first
byte), and then the generator's `finally` never runs. Anything a route took before
returning a stream (a queue slot, a stream grant) is released here instead, whatever
happened; the releases are idempotent, so the generator may release them too.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Mapping

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send


class GuardedStream(StreamingResponse):
    def __init__(
        self,
        content: AsyncIterable[bytes],
        *,
        on_close: tuple[Callable[[], None], ...],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(content, media_type="text/event-stream", headers=headers)
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            for release in self._on_close:
                release()
