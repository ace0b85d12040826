"""Every upstream request in flight, for the admin's live view and its stop button.

The relay adds a request when the engine has answered and removes it in `finish()`. The
entry holds the request's own `RelayContext`, which the relay already updates as frames
pass (content chunks, first-token time), so the hot path pays nothing for this view: the
numbers are read only when an admin asks for a snapshot.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
from starlette.requests import Request

from gpuchat.engines.control import EngineControl
from gpuchat.openai import sse
from gpuchat.openai.sse import KEEPALIVE_SECONDS
from gpuchat.schemas.engines import EnginePublic, GpuReportPublic
from gpuchat.schemas.live import LiveProcesses, LiveSnapshot, LiveStreamPublic
from gpuchat.services.cluster import Cluster, process_name

if TYPE_CHECKING:
    from gpuchat.services.relay.context import RelayContext

T = TypeVar("T")


@dataclass(slots=True)
class LiveStream:
    ctx: RelayContext
    response: aiohttp.ClientResponse


class LiveStreams:
    def __init__(self) -> None:
        self._streams: dict[str, LiveStream] = {}

    def add(self, ctx: RelayContext, response: aiohttp.ClientResponse) -> None:
        self._streams[ctx.request_id] = LiveStream(ctx, response)

    def discard(self, request_id: str) -> None:
        self._streams.pop(request_id, None)

    def __len__(self) -> int:
        return len(self._streams)

    def stop(self, request_id: str) -> bool:
        """End a request as an administrator: the client gets an error event, the engine
        sees its connection closed and stops generating. False when it is not in flight."""
        entry = self._streams.get(request_id)
        if entry is None:
            return False
        entry.ctx.stopped_by = "admin"
        entry.response.close()
        return True

    def snapshot(self) -> list[dict[str, Any]]:
        now, wall, process = time.monotonic(), time.time(), process_name()
        return [_describe(e.ctx, now, wall, process) for e in list(self._streams.values())]


def _describe(ctx: RelayContext, now: float, wall: float, process: str) -> dict[str, Any]:
    # Content chunks count tokens closely enough for a live view (engines send one token
    # per chunk); the usage row later holds the engine's exact count.
    tokens = ctx.content_chunks
    generating = now - ctx.first_token_at if ctx.first_token_at is not None else 0.0
    return {
        "request_id": ctx.request_id,
        "user_id": ctx.principal.user_id,
        "user": ctx.principal.email,
        "client": ctx.client,
        "model": ctx.alias,
        "profile": ctx.upstream.profile.name,
        "started_at": round(wall - (now - ctx.started), 3),
        "elapsed_s": round(now - ctx.started, 2),
        "ttft_ms": round((ctx.first_token_at - ctx.started) * 1000)
        if ctx.first_token_at is not None
        else None,
        "tokens": tokens,
        "tokens_per_s": round(tokens / generating, 1) if generating > 0.05 else None,
        "process": process,  # the gateway process relaying it (host:pid)
    }


def wants_event_stream(request: Request) -> bool:
    """Endless feeds stream only to clients that ask for a stream (EventSource always does),
    so a plain GET, a script or a crawler gets one JSON answer and never hangs."""
    return "text/event-stream" in request.headers.get("accept", "")


async def snapshot(engines: EngineControl, cluster: Cluster) -> LiveSnapshot:
    """One frame of the admin's live view: the streams of every gateway process."""
    statuses = engines.statuses()
    gpus, streams = await asyncio.gather(engines.gpus(), cluster.ask("streams", {}))
    return LiveSnapshot(
        time=round(time.time(), 3),
        active=engines.profile_for("default").name,
        engines=[EnginePublic.model_validate(status.model_dump()) for status in statuses],
        queue={status.name: status.waiting for status in statuses if status.waiting},
        gpus=GpuReportPublic.model_validate(gpus.model_dump()),
        streams=[LiveStreamPublic.model_validate(s) for answer in streams.values for s in answer],
        # How many gateway processes answered, and whether every one did in time.
        processes=LiveProcesses(answered=len(streams.values), complete=streams.complete),
    )


async def live_feed(
    engines: EngineControl, cluster: Cluster, interval: float
) -> AsyncIterator[bytes]:
    """SSE frames, one snapshot every `interval` seconds, until the client goes away."""
    while True:
        yield sse.data_frame((await snapshot(engines, cluster)).model_dump(mode="json"))
        await asyncio.sleep(interval)


async def with_keepalive(
    source: AsyncIterator[T], every: float = KEEPALIVE_SECONDS
) -> AsyncIterator[T | None]:
    """`source`'s items, and None whenever it has been quiet for `every` seconds (a proxy
    between us and the browser would otherwise close an idle stream)."""
    pending: asyncio.Future[T] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(source))
            done, _ = await asyncio.wait({pending}, timeout=every)
            if not done:
                yield None
                continue
            try:
                item = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield item
    finally:
        if pending is not None:
            pending.cancel()
