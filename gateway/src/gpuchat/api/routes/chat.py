"""`POST /api/chat`: one turn of the web chat, streamed as typed events; and its stop button."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import StreamingResponse

from gpuchat.api.deps import CurrentPrincipal, StateDep
from gpuchat.core.db import read_session, session_scope
from gpuchat.core.errors import GatewayError
from gpuchat.core.security import Principal
from gpuchat.core.streaming import DisconnectWatch, SSEResponse
from gpuchat.db.models import Client, User
from gpuchat.engines.profiles import Profile
from gpuchat.openai import sse
from gpuchat.schemas.conversations import ChatRequest
from gpuchat.services import completions
from gpuchat.services.chat.stream import chat_stream
from gpuchat.services.chat.turn import Turn, chosen_model, prepare_turn
from gpuchat.services.filters import message_texts
from gpuchat.services.limits.queue import Ticket
from gpuchat.services.relay.request import UpstreamRequest
from gpuchat.state import AppState

router = APIRouter(prefix="/api/chat", tags=["chat"])

_EVENT_STREAM: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "Typed chat events"}
}


@router.post("", response_class=StreamingResponse, responses=_EVENT_STREAM)
async def chat(
    body: ChatRequest, request: Request, principal: CurrentPrincipal, state: StateDep
) -> StreamingResponse:
    """Store the question, then stream the answer: start, queue, loading, delta…, usage,
    done, title. A model the caller may not use answers 403 before any limit counts the
    request (as on `/v1`); limits and a full queue answer 429 before anything is stored."""
    await state.filters.check([t for t in (body.content, body.system_prompt) if t])
    # The model is decided once: a default the user's groups leave out becomes one of theirs.
    body = body.model_copy(update={"model": await _check_model(body, principal, state)})
    grant = await state.limits.admit(principal)
    tickets: list[Ticket] = []

    def enter_queue(profile: Profile) -> None:
        tickets.append(
            state.admission.enter(profile.name, profile.max_concurrency, str(principal.user_id))
        )

    try:
        turn = await _prepare(body, principal, state, enter_queue)
    except BaseException:
        for ticket in tickets:
            ticket.close()
        grant.release()
        raise
    (ticket,) = tickets
    question = str(turn.prompt.messages[-1].get("content") or "")
    upstream_request = UpstreamRequest(
        state.upstreams,
        request_id=request.scope["state"]["request_id"],
        principal=principal,
        alias=turn.alias,
        client=Client.web,
        ticket=ticket,
        holds=(grant.release,),
        affinity=str(principal.user_id),
        collect_text=True,
        log=request.scope["state"].setdefault("log", {}),
        sample_prompt=lambda: question,
    )
    stream = chat_stream(state.upstreams, state.chats, state.answers, turn, upstream_request)
    headers = {**sse.SSE_HEADERS, **grant.headers}
    watch = DisconnectWatch(request.receive)
    return SSEResponse(stream, watch, on_close=(upstream_request.finish,), headers=headers)


async def _check_model(body: ChatRequest, principal: Principal, state: AppState) -> str:
    """The turn's model; 404 for an unknown model or conversation, 403 for a model the
    caller named (or their conversation has) that they may not use."""
    async with read_session(state.sessions) as session:
        user = await session.get(User, principal.user_id)
        if user is None:
            raise GatewayError(401, "The user no longer exists", code="invalid_credentials")
        alias = await chosen_model(
            session,
            user,
            body,
            lambda default: completions.usable_model(state.engines, principal, default),
        )
    profile = completions.find_profile(state.engines, alias)
    completions.check_model_allowed(principal, alias, profile.names)
    return alias


async def _prepare(
    body: ChatRequest,
    principal: Principal,
    state: AppState,
    enter_queue: Callable[[Profile], None],
) -> Turn:
    """The turn, its question stored, once its model is known and a place in its queue is
    taken: a refusal (unknown model, full queue) rolls the whole transaction back."""
    async with session_scope(state.sessions) as session:
        user = await session.get(User, principal.user_id)
        if user is None:
            raise GatewayError(401, "The user no longer exists", code="invalid_credentials")

        def profile_for(alias: str) -> Profile:
            profile = completions.find_profile(state.engines, alias)
            completions.check_model_allowed(principal, alias, profile.names)
            enter_queue(profile)
            return profile

        turn = await prepare_turn(session, user, body, profile_for)
        # Everything the engine will read (a stored system prompt too); a refusal rolls
        # the stored question back.
        await state.filters.check(message_texts(turn.prompt.messages))
        return turn


@router.post("/{request_id}/stop", status_code=204, responses={404: {}})
async def stop(request_id: str, principal: CurrentPrincipal, state: StateDep) -> None:
    """Stop a running answer of the caller's (from any tab, whichever gateway process
    streams it). The partial answer is kept."""
    question = {"request_id": request_id, "user_id": principal.user_id}
    if not any((await state.cluster.ask("stop_chat", question, first=True)).values):
        raise GatewayError(404, "No running answer with this id", code="not_running")
