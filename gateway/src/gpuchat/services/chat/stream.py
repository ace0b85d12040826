"""The web chat's stream: one turn from the engine to typed SSE events, persisted in the end.

Events (see docs/api.md): start, loading, delta, usage, title, error, done. The relay
(`relay.py`) does the upstream work — timeouts, the usage row, the engine's lease; this
module turns its observations into the app's events and stores the answer. The stored
answer is exactly the text sent in `delta` events, whatever the end: complete, stopped by
the user (interrupted), client gone (interrupted), or failed (error).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from gpuchat.core.errors import GatewayError
from gpuchat.core.security import Principal
from gpuchat.db.models import Client
from gpuchat.engines.control import EngineState, Upstream
from gpuchat.openai import sse
from gpuchat.services.chat.prompt import Prompt, answer_budget, answer_room, fit_exactly
from gpuchat.services.chat.store import AnswerRecord, ChatStore
from gpuchat.services.chat.titles import title_for
from gpuchat.services.chat.turn import Turn
from gpuchat.services.completions import EngineWait, sampled
from gpuchat.services.limits.admission import Ticket
from gpuchat.services.limits.quotas import Grant
from gpuchat.services.relay.stream import (
    CLIENT_CLOSED,
    RelayContext,
    finish,
    interrupt,
    open_upstream,
    relay_stream,
)

if TYPE_CHECKING:
    from gpuchat.state import AppState

LOADING_POLL_SECONDS = 0.5
DONE_WAITS_FOR_STORE_S = 2.0  # then `done` goes out without the id; the answer is stored later


def event(kind: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


@dataclass(slots=True)
class ChatHandle:
    """A running chat turn, for `POST /api/chat/{request_id}/stop` from any tab."""

    user_id: int
    stop_requested: asyncio.Event = field(default_factory=asyncio.Event)
    ctx: RelayContext | None = None
    response: aiohttp.ClientResponse | None = None
    # What the client has been sent: a yield that returned has been delivered.
    pieces: list[str] = field(default_factory=list)
    taken: int = 0  # the relay's text pieces already turned into deltas
    error: dict[str, Any] | None = None  # the relay's error frame, if it ended with one
    finished: bool = False  # finish() has run for ctx
    ticket: Ticket | None = None  # the turn's place in the engine's queue
    prompt: Prompt | None = None  # as sent, after the engine counted it

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def stop(self) -> None:
        self.stop_requested.set()
        if self.ticket is not None and not self.ticket.admitted:
            self.ticket.close()  # still queued: leave the queue now
        if self.ctx is not None and self.response is not None:
            interrupt(self.ctx, self.response, "user")


class ActiveChats:
    def __init__(self) -> None:
        self._handles: dict[str, ChatHandle] = {}

    def open(self, request_id: str, user_id: int) -> ChatHandle:
        handle = self._handles[request_id] = ChatHandle(user_id)
        return handle

    def close(self, request_id: str) -> None:
        self._handles.pop(request_id, None)

    def stop(self, request_id: str, user_id: int) -> bool:
        """Stop the caller's own running turn; False when there is none by that id."""
        handle = self._handles.get(request_id)
        if handle is None or handle.user_id != user_id:
            return False
        handle.stop()
        return True


async def chat_stream(
    state: AppState,
    chats: ActiveChats,
    store: ChatStore,
    principal: Principal,
    turn: Turn,
    request_id: str,
    ticket: Ticket,
    grant: Grant,
    log: dict[str, object] | None = None,
) -> AsyncIterator[bytes]:
    handle = chats.open(request_id, principal.user_id)
    handle.ticket = ticket
    answer = AnswerRecord(turn.conversation_id, turn.user_message_id, turn.alias)
    try:
        yield event(
            "start",
            {
                "conversation_id": turn.conversation_id,
                "request_id": request_id,
                "user_message_id": turn.user_message_id,
                "model": turn.alias,
                "trimmed": turn.prompt.trimmed,
            },
        )
        async for frame in _turn(state, principal, turn, request_id, handle, grant, log):
            yield frame
        assert handle.ctx is not None
        answer.observe(handle.ctx, handle.text, handle.error)
    except GatewayError as error:
        answer.fail(error, handle.ctx, handle.text)
    finally:
        chats.close(request_id)
        ticket.close()
        grant.release()
        if handle.ctx is not None and not handle.finished:
            handle.ctx.fail(CLIENT_CLOSED, "client_closed")
            finish(handle.ctx, state.usage)
        if not answer.settled:
            # Cancelled: the client went away. No await may run here; store it in a task.
            answer.interrupt(handle.ctx, handle.text)
            store.save_later(answer)
    saving = store.save_later(answer)
    try:  # the answer is stored in any case; `done` waits only so long for its id
        message_id = await asyncio.wait_for(asyncio.shield(saving), DONE_WAITS_FOR_STORE_S)
    except TimeoutError:
        message_id = None
    if answer.error is not None:
        yield event("error", answer.error)
    if handle.ctx is not None:
        yield event("usage", answer.usage())
    done: dict[str, Any] = {"assistant_message_id": message_id, "status": answer.status.value}
    if handle.prompt is not None and handle.prompt.trimmed != turn.prompt.trimmed:
        done["trimmed"] = handle.prompt.trimmed  # the engine's count left out more turns
    yield event("done", done)
    if turn.needs_title:
        title = await title_for(state, principal, turn, handle.text)
        if await store.set_title(turn.conversation_id, title):
            yield event("title", {"conversation_id": turn.conversation_id, "title": title})


async def _turn(
    state: AppState,
    principal: Principal,
    turn: Turn,
    request_id: str,
    handle: ChatHandle,
    grant: Grant,
    log: dict[str, object] | None,
) -> AsyncIterator[bytes]:
    """Wait in the queue (queue events) and for the engine (loading events), then relay its
    answer as delta events."""
    assert handle.ticket is not None
    ticket = handle.ticket
    async for position, wait_s in state.admission.positions(ticket):
        yield event("queue", {"position": position, "estimated_wait_s": wait_s})
    wait = EngineWait(state.engines, turn.alias, str(principal.user_id))
    try:
        async for _ in wait.ticks(LOADING_POLL_SECONDS):
            if handle.stop_requested.is_set():
                raise GatewayError(499, "Stopped before the model was ready", code="stopped")
            yield _loading_event(state, turn.alias)
    finally:
        wait.cancel()
    upstream = wait.result()
    limits = upstream.profile.limits
    wanted = turn.parameters.get("max_tokens") or limits.default_max_tokens
    room = answer_room(upstream.context, limits.max_tokens, wanted)
    handle.prompt = prompt = await fit_exactly(state.http, upstream, turn.prompt, room)
    max_tokens = answer_budget(upstream.context, prompt, limits.max_tokens, wanted)
    handle.ctx = ctx = RelayContext(
        request_id=request_id,
        principal=principal,
        alias=turn.alias,
        upstream=upstream,
        client=Client.web,
        wants_usage=True,
        collect_text=True,
        live=state.live,
        on_finish=lambda _: setattr(handle, "finished", True),
        queue_ms=ticket.waited_ms,
        holds=(ticket.close, grant.release),
        log=log,
        tracing=state.tracing if state.tracing.enabled else None,
    )
    if sampled(state.settings.log_sample_rate):
        ctx.sample_prompt = prompt.messages[-1].get("content") or ""
    body = _upstream_body(upstream, turn, prompt, max_tokens)
    try:
        response = await open_upstream(state.http, ctx, body)
    except GatewayError:
        finish(ctx, state.usage)
        raise
    _attach(handle, ctx, response)
    async for frame in relay_stream(response, ctx, state.usage):
        text = "".join(ctx.text[handle.taken :])
        handle.taken = len(ctx.text)
        if text:
            yield event("delta", {"text": text})
            handle.pieces.append(text)
        elif frame == sse.KEEPALIVE:
            yield frame
        elif frame.startswith(b'data: {"error"'):
            handle.error = orjson.loads(frame[6:])


def _attach(handle: ChatHandle, ctx: RelayContext, response: aiohttp.ClientResponse) -> None:
    """From here on the turn can be stopped (user, admin, model switch) by closing upstream."""
    handle.response = response
    if handle.stop_requested.is_set():
        interrupt(ctx, response, "user")
    if ctx.upstream.lease is not None:
        ctx.upstream.lease.on_revoke = lambda: interrupt(ctx, response, "switch")
    if ctx.live is not None:
        ctx.live.add(ctx, response)


def _loading_event(state: AppState, alias: str) -> bytes:
    name = state.engines.profile_for(alias).name
    status = next((s for s in state.engines.statuses() if s.name == name), None)
    progress = status.progress / 100 if status and status.progress is not None else None
    if status and status.phase:
        message = status.phase
    else:
        message = "starting" if status and status.state is EngineState.starting else "waiting"
    return event("loading", {"profile": name, "progress": progress, "message": message})


def _upstream_body(upstream: Upstream, turn: Turn, prompt: Prompt, max_tokens: int) -> bytes:
    parameters = {k: v for k, v in turn.parameters.items() if k != "max_tokens"}
    return orjson.dumps(
        {
            "model": upstream.model,
            "messages": prompt.messages,
            "stream": True,
            "stream_options": {"include_usage": True},
            **parameters,
            "max_tokens": max_tokens,
        }
    )
