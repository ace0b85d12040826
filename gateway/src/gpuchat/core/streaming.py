"""The event stream every streaming route sends (`/v1`, the web chat): `SSEResponse`, sent
from the request's own task, its client watched by one `DisconnectWatch` (no task group).

A body generator may never start (the client left before the first byte), and then its
`finally` never runs: what a route took before returning the stream (a queue ticket, a
rate-limit grant) is released by the response's `on_close` instead, whatever happened; the
releases are idempotent, so the generator may release them too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import contextmanager

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from gpuchat.core.middleware import body_send


class ClientGone(Exception):
    """The client disconnected while the request was working for it."""


class DisconnectWatch:
    """Ends the request's work the moment its client disconnects, from the request's own task.

    One watcher task per request reads `receive()` until `http.disconnect` (the body must have
    been read already). Inside `guard()`, a disconnect cancels the request's task and the
    block raises `ClientGone` instead; outside it, `gone` is noted and the next `guard()`
    raises at once. This replaces a task pair per wait and Starlette's task group per
    streaming response on the API's hot path.
    """

    __slots__ = ("_armed", "_cancelled", "_task", "_watcher", "gone")

    def __init__(self, receive: Receive) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self._armed = 0
        self._cancelled = False
        self.gone = False
        self._watcher = asyncio.ensure_future(self._watch(receive))

    async def _watch(self, receive: Receive) -> None:
        try:
            while (await receive())["type"] != "http.disconnect":
                pass
        except asyncio.CancelledError:
            # `close()`: the response is over. A task that ended cancelled would keep its
            # CancelledError, whose traceback holds this frame, `self` and through it the
            # whole request: a reference cycle only the garbage collector frees, and its
            # full collections stalled every stream for tens of ms (docs/benchmarks.md).
            return
        self.gone = True
        if self._armed and not self._cancelled:
            self._cancelled = True
            self._task.cancel()

    @contextmanager
    def guard(self) -> Iterator[None]:
        if self.gone:
            raise ClientGone
        self._armed += 1
        try:
            yield
        except asyncio.CancelledError:
            if not self._cancelled:
                raise  # not ours: the server is stopping
            raise ClientGone from None
        finally:
            self._armed -= 1
            if self._cancelled:  # ours, delivered above or taken by an inner handler
                self._cancelled = False
                self._task.uncancel()

    def close(self) -> None:
        self._watcher.cancel()


class SSEResponse(StreamingResponse):
    """An event stream sent from the request's own task, its client watched by `watch`.

    `frames` is closed whatever happens (its `finally` records and releases), then
    `on_close` runs; a client that leaves ends the response quietly.
    """

    def __init__(
        self,
        frames: AsyncIterator[bytes],
        watch: DisconnectWatch,
        *,
        on_close: tuple[Callable[[], None], ...] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(frames, media_type="text/event-stream", headers=headers)
        self._frames = frames
        self._watch = watch
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            with self._watch.guard():
                start = {"status": self.status_code, "headers": self.raw_headers}
                await send({"type": "http.response.start", **start})
                send = body_send(scope, send)
                async for frame in self._frames:
                    await send({"type": "http.response.body", "body": frame, "more_body": True})
                    if self._watch.gone:
                        raise ClientGone
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except ClientGone:
            pass
        finally:
            try:
                await _aclose(self._frames)
            finally:
                self._watch.close()
                for release in self._on_close:
                    release()


async def _aclose(frames: AsyncIterator[bytes]) -> None:
    aclose = getattr(frames, "aclose", None)
    if aclose is not None:
        await aclose()
