"""The deadlines of one relayed stream: first token, idle gap, total, and the keep-alive.

Used by `relay.relay_stream` in place of a timeout around every upstream read (one timer
armed and cancelled per chunk was measurable CPU on the hot path; docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import aiohttp

from gpuchat.openai.sse import KEEPALIVE_SECONDS

if TYPE_CHECKING:
    from gpuchat.services.relay.context import RelayContext


class StreamDeadlines:
    """One stream's deadlines, with one timer per stream, not one per read.

    Reads only note when bytes came; the timer fires at the next moment something could be
    due (the first token, the next token, the end of the answer, a keep-alive for the
    client), finds most times that bytes came meanwhile, and sets itself again. When
    something is due while the relay waits on the engine, it cancels that wait and `read`
    turns the cancellation into a keep-alive (None) or a TimeoutError. While the relay is
    sending to a slow client it is not waiting on the engine, so nothing is due; the timer
    is set again by the next read.

    The deadline only ever moves later, except once: when the first token comes, the wait
    for it (`first_token`) becomes the wait for the next one (`idle`), which may end sooner
    than the moment the timer was set for. The first read after the first token sets it again.
    An engine's comment lines (`: ping`) are passed on to the client but are not tokens: they
    do not put off the idle deadline.
    """

    __slots__ = (
        "_ctx",
        "_last_beat",
        "_last_data",
        "_reader",
        "_timer",
        "_timer_before_token",
        "_verdict",
    )

    def __init__(self, ctx: RelayContext) -> None:
        self._ctx = ctx
        self._last_data = self._last_beat = time.monotonic()
        self._reader: asyncio.Task[Any] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_before_token = False  # the timer was set for the first-token deadline
        self._verdict: str | None = None  # set just before the wait is cancelled

    async def read(self, response: aiohttp.ClientResponse) -> bytes | None:
        """The next upstream bytes; None when a keep-alive is due; b"" at end of stream."""
        if self._timer_before_token and self._ctx.first_token_at is not None:
            self.stop()  # once per stream: the idle deadline may come before the timer
        if self._timer is None:
            due, verdict = self._next_due()
            if due <= time.monotonic():
                self._due_now(verdict)
                return None
            self._timer = asyncio.get_running_loop().call_at(due, self._fire)
            self._timer_before_token = self._ctx.first_token_at is None
        self._reader = asyncio.current_task()
        try:
            chunk = await response.content.readany()
        except asyncio.CancelledError:
            ours, self._verdict = self._verdict, None
            if ours is None:
                raise  # not ours: the client left, or the server is stopping
            assert self._reader is not None
            self._reader.uncancel()
            self._due_now(ours)
            return None
        finally:
            self._reader = None
        if chunk[:1] == b":" and b"data:" not in chunk:
            self._last_beat = time.monotonic()  # only comments: the client hears something
        else:
            self._last_data = time.monotonic()
        return chunk

    def _due_now(self, verdict: str) -> None:
        """Raise the timeout, or note the keep-alive the caller is about to send."""
        if verdict != _KEEPALIVE:
            raise TimeoutError(verdict) from None
        self._last_beat = time.monotonic()

    def stop(self) -> None:
        self._timer_before_token = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        # Runs only while the relay is suspended: in `read`'s wait, or elsewhere (sending).
        self._timer = None  # when nothing is set, the next read sets it again
        due, verdict = self._next_due()
        if due > time.monotonic():
            self._timer = asyncio.get_running_loop().call_at(due, self._fire)
            self._timer_before_token = self._ctx.first_token_at is None
        elif self._reader is not None and self._verdict is None:
            self._verdict = verdict
            self._reader.cancel()

    def _next_due(self) -> tuple[float, str]:
        ctx, timeouts = self._ctx, self._ctx.upstream.profile.timeouts
        if ctx.first_token_at is None:
            due, what = ctx.started + timeouts.first_token, "first token"
        else:
            due, what = self._last_data + timeouts.idle, "next token"
        if ctx.started + timeouts.total < due:
            due, what = ctx.started + timeouts.total, "end of the answer"
        beat = max(self._last_data, self._last_beat) + KEEPALIVE_SECONDS
        if beat < due:
            return beat, _KEEPALIVE
        return due, f"The model server did not send the {what} in time"


_KEEPALIVE = "keep-alive"
