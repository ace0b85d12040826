"""Admin: the live view (SSE) of engines, GPUs, queues and every stream, and its stop button."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response, StreamingResponse

from gpuchat.api.deps import AdminPrincipal, AuditActor, StateDep
from gpuchat.core.db import session_scope
from gpuchat.core.errors import GatewayError
from gpuchat.openai import sse
from gpuchat.schemas.live import LiveSnapshot, StreamStopped
from gpuchat.services.audit.record import Action, Target, record
from gpuchat.services.relay.live import live_feed, snapshot, wants_event_stream

_STREAM_OR_JSON: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/json": {}, "text/event-stream": {}},
        "description": "One JSON snapshot, or SSE snapshots with Accept: text/event-stream",
    }
}

router = APIRouter(prefix="/api/admin", tags=["admin"])


@router.get("/live", response_model=LiveSnapshot, responses=_STREAM_OR_JSON)
async def live(
    request: Request,
    _: AdminPrincipal,
    state: StateDep,
    interval: Annotated[float, Query(ge=0.2, le=10)] = 1.0,
) -> LiveSnapshot | Response:
    """With `Accept: text/event-stream` (what EventSource sends) a snapshot every
    `interval` seconds until the client leaves; otherwise one JSON snapshot."""
    if not wants_event_stream(request):
        return await snapshot(state.engines, state.cluster)
    return StreamingResponse(
        live_feed(state.engines, state.cluster, interval),
        media_type="text/event-stream",
        headers=sse.SSE_HEADERS,
    )


@router.post("/streams/{request_id}/stop")
async def stop_stream(request_id: str, actor: AuditActor, state: StateDep) -> StreamStopped:
    """End one request in flight, in whichever gateway process relays it: its client gets
    an error event, the engine stops."""
    answers = await state.cluster.ask("stop_stream", {"request_id": request_id}, first=True)
    if not any(answers.values):
        raise GatewayError(404, "No such request in flight", code="stream_not_found")
    async with session_scope(state.sessions) as session:
        record(session, actor, Action.stream_stop, Target("stream", request_id))
    return StreamStopped(request_id=request_id, stopped=True)
