"""`POST /api/chat`: one turn of the web chat, streamed as typed events; and its stop button."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import StreamingResponse

from gpuchat.api.deps import CurrentPrincipal, StateDep
from gpuchat.core.db import session_scope
from gpuchat.core.errors import GatewayError
from gpuchat.db.models import User
from gpuchat.engines.profiles import Profile
from gpuchat.openai import sse
from gpuchat.schemas.conversations import ChatRequest
from gpuchat.services import completions
from gpuchat.services.chat import chat_stream
from gpuchat.services.chat_turn import prepare_turn

router = APIRouter(prefix="/api/chat", tags=["chat"])

_EVENT_STREAM: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "Typed chat events"}
}


@router.post("", response_class=StreamingResponse, responses=_EVENT_STREAM)
async def chat(
    body: ChatRequest, request: Request, principal: CurrentPrincipal, state: StateDep
) -> StreamingResponse:
    """Store the question, then stream the answer: start, loading, delta…, usage, done, title."""
    async with session_scope(state.sessions) as session:
        user = await session.get(User, principal.user_id)
        if user is None:
            raise GatewayError(401, "The user no longer exists", code="invalid_credentials")

        def profile_for(alias: str) -> Profile:
            profile = completions.find_profile(state.engines, alias)
            completions.check_model_allowed(principal, alias, profile.names)
            return profile

        turn = await prepare_turn(session, user, body, profile_for)
    request_id = request.scope["state"]["request_id"]
    return StreamingResponse(
        chat_stream(state, state.chats, state.answers, principal, turn, request_id),
        media_type="text/event-stream",
        headers=sse.SSE_HEADERS,
    )


@router.post("/{request_id}/stop", status_code=204, responses={404: {}})
async def stop(request_id: str, principal: CurrentPrincipal, state: StateDep) -> None:
    """Stop a running answer of the caller's (from any tab). The partial answer is kept."""
    if not state.chats.stop(request_id, principal.user_id):
        raise GatewayError(404, "No running answer with this id", code="not_running")
