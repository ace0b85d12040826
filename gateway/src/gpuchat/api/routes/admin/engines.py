"""Admin: an engine's log, as the last lines or as a live SSE follow."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response, StreamingResponse

from gpuchat.api.deps import AdminPrincipal, StateDep
from gpuchat.api.routes.admin.profiles import control_errors
from gpuchat.engines.control import EngineControl
from gpuchat.openai import sse
from gpuchat.schemas.engines import EngineLog
from gpuchat.services.relay.live import wants_event_stream, with_keepalive

_STREAM_OR_JSON: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/json": {}, "text/event-stream": {}},
        "description": "Log lines as JSON, or followed as SSE with Accept: text/event-stream",
    }
}

router = APIRouter(prefix="/api/admin/engines", tags=["admin"])


@router.get("/{name}/logs", response_model=EngineLog, responses=_STREAM_OR_JSON)
async def engine_logs(
    name: str,
    _: AdminPrincipal,
    state: StateDep,
    request: Request,
    tail: Annotated[int, Query(ge=0, le=5000)] = 200,
) -> EngineLog | Response:
    """The last `tail` lines as JSON; with `Accept: text/event-stream` (what EventSource
    sends) an SSE stream of those lines, then of every new line until the client leaves."""
    with control_errors():
        lines = await state.engines.read_log(name, tail)
    if not wants_event_stream(request):
        return EngineLog(name=name, lines=lines)
    return StreamingResponse(
        _follow(state.engines, name, lines),
        media_type="text/event-stream",
        headers=sse.SSE_HEADERS,
    )


async def _follow(engines: EngineControl, name: str, first: list[str]) -> AsyncIterator[bytes]:
    for line in first:
        yield sse.data_frame({"line": line})
    async for new in with_keepalive(engines.follow_log(name)):
        yield sse.KEEPALIVE if new is None else sse.data_frame({"line": new})
