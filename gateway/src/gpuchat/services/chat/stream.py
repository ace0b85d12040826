"""The web chat's stream: one turn from the engine to typed SSE events, persisted in the end.

Events (see docs/api.md): start, queue, loading, delta, usage, title, error, done. The
turn's `UpstreamRequest` (`relay/request.py`) does the upstream work — the queue, the
engine, timeouts, the usage row; this module turns its observations into the app's events
and stores the answer. The stored
answer is exactly the text sent in `delta` events, whatever the end: complete, stopped by
the user (interrupted), client gone (interrupted), or failed (error).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from gpuchat.core.errors import GatewayError
from gpuchat.engines.control import EngineControl, EngineState, Upstream
from gpuchat.openai import sse
from gpuchat.services.chat.prompt import Prompt, answer_budget, answer_room, fit_exactly
from gpuchat.services.chat.store import AnswerRecord, ChatStore
from gpuchat.services.chat.titles import title_for
from gpuchat.services.chat.turn import Turn
from gpuchat.services.relay.request import UpstreamRequest, Upstreams

LOADING_POLL_SECONDS = 0.5
DONE_WAITS_FOR_STORE_S = 2.0  # then `done` goes out without the id; the answer is stored later


def event(kind: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


@dataclass(slots=True)
class ChatHandle:
    """A running chat turn, for `POST /api/chat/{request_id}/stop` from any tab."""

    user_id: int
    request: UpstreamRequest
    stop_requested: asyncio.Event = field(default_factory=asyncio.Event)
    # What the client has been sent: a yield that returned has been delivered.
    pieces: list[str] = field(default_factory=list)
    taken: int = 0  # the relay's text pieces already turned into deltas
    thoughts: list[str] = field(default_factory=list)  # a reasoning model's thinking, as sent
    thoughts_taken: int = 0
    thinking_since: float | None = None  # the first thought
    thinking_ms: int | None = None  # from the first thought to the first answer token
    error: dict[str, Any] | None = None  # the relay's error frame, if it ended with one
    prompt: Prompt | None = None  # as sent, after the engine counted it

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    @property
    def reasoning(self) -> str | None:
        return "".join(self.thoughts) or None

    def thought_for(self) -> int | None:
        """Milliseconds of thinking: until the answer began, or until now if it has not."""
        if self.thinking_ms is None and self.thinking_since is not None:
            return round((time.monotonic() - self.thinking_since) * 1000)
        return self.thinking_ms

    def stop(self) -> None:
        self.stop_requested.set()
        self.request.stop("user")


class ActiveChats:
    def __init__(self) -> None:
        self._handles: dict[str, ChatHandle] = {}

    def open(self, request: UpstreamRequest) -> ChatHandle:
        handle = ChatHandle(request.principal.user_id, request)
        self._handles[request.request_id] = handle
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
    upstreams: Upstreams,
    chats: ActiveChats,
    store: ChatStore,
    turn: Turn,
    request: UpstreamRequest,
) -> AsyncIterator[bytes]:
    handle = chats.open(request)
    answer = AnswerRecord(turn.conversation_id, turn.user_message_id, turn.alias)
    ended_by: BaseException | None = None  # what ended the turn, for its usage row
    try:
        yield event(
            "start",
            {
                "conversation_id": turn.conversation_id,
                "request_id": request.request_id,
                "user_message_id": turn.user_message_id,
                "model": turn.alias,
                "trimmed": turn.prompt.trimmed,
            },
        )
        async for frame in _turn(upstreams, turn, handle):
            yield frame
        assert request.ctx is not None
        answer.observe(request.ctx, handle.text, handle.error)
    except GatewayError as error:
        ended_by = error
        answer.fail(error, request.ctx, handle.text)
    except BaseException as exc:  # the client went away (cancelled, closed)
        ended_by = exc
        raise
    finally:
        chats.close(request.request_id)
        request.end(ended_by)
        answer.reasoning, answer.reasoning_ms = handle.reasoning, handle.thought_for()
        if not answer.settled:
            # Cancelled: the client went away. No await may run here; store it in a task.
            answer.interrupt(request.ctx, handle.text)
            store.save_later(answer)
    saving = store.save_later(answer)
    try:  # the answer is stored in any case; `done` waits only so long for its id
        message_id = await asyncio.wait_for(asyncio.shield(saving), DONE_WAITS_FOR_STORE_S)
    except TimeoutError:
        message_id = None
    if answer.error is not None:
        yield event("error", answer.error)
    if request.ctx is not None:
        yield event("usage", answer.usage())
    done: dict[str, Any] = {"assistant_message_id": message_id, "status": answer.status.value}
    if handle.prompt is not None and handle.prompt.trimmed != turn.prompt.trimmed:
        done["trimmed"] = handle.prompt.trimmed  # the engine's count left out more turns
    yield event("done", done)
    if turn.needs_title:
        title = await title_for(upstreams, request.principal, turn, handle.text)
        if await store.set_title(turn.conversation_id, title):
            yield event("title", {"conversation_id": turn.conversation_id, "title": title})


async def _turn(upstreams: Upstreams, turn: Turn, handle: ChatHandle) -> AsyncIterator[bytes]:
    """Wait in the queue (queue events) and for the engine (loading events), then relay its
    answer as delta events."""
    request = handle.request
    async for position, wait_s in request.positions():
        yield event("queue", {"position": position, "estimated_wait_s": wait_s})
    async for _ in request.engine(LOADING_POLL_SECONDS):
        if handle.stop_requested.is_set():
            raise GatewayError(499, "Stopped before the model was ready", code="stopped")
        yield _loading_event(upstreams.engines, turn.alias)
    upstream = request.upstream
    limits = upstream.profile.limits
    wanted = turn.parameters.get("max_tokens")  # the request's, the user's or the profile's
    room = answer_room(upstream.context, limits.max_tokens, wanted)
    handle.prompt = prompt = await fit_exactly(upstreams.http, upstream, turn.prompt, room)
    max_tokens = answer_budget(upstream.context, prompt, limits.max_tokens, wanted)
    await request.open(_upstream_body(upstream, turn, prompt, max_tokens))
    ctx = request.ctx
    assert ctx is not None
    async for frame in request.relay():
        thought = "".join(ctx.reasoning[handle.thoughts_taken :])
        handle.thoughts_taken = len(ctx.reasoning)
        if thought:
            if handle.thinking_since is None:
                handle.thinking_since = time.monotonic()
            yield event("reasoning", {"text": thought})
            handle.thoughts.append(thought)
        text = "".join(ctx.text[handle.taken :])
        handle.taken = len(ctx.text)
        if text:
            if handle.thinking_since is not None and handle.thinking_ms is None:
                handle.thinking_ms = handle.thought_for()
            yield event("delta", {"text": text})
            handle.pieces.append(text)
        elif frame == sse.KEEPALIVE:
            yield frame
        elif frame.startswith(b'data: {"error"'):
            handle.error = orjson.loads(frame[6:])


def _loading_event(engines: EngineControl, alias: str) -> bytes:
    name = engines.profile_for(alias).name
    status = next((s for s in engines.statuses() if s.name == name), None)
    progress = status.progress / 100 if status and status.progress is not None else None
    if status and status.phase:
        message, code = status.phase, status.phase_code
    elif status and status.state is EngineState.starting:
        message, code = "starting", "phase_starting"
    else:
        message, code = "waiting", "phase_waiting"
    body = {"profile": name, "progress": progress, "message": message, "code": code}
    return event("loading", body)


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
