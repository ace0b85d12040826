"""A chat completion from start to end: resolve the engine, open the upstream, answer.

Used by `/v1/chat/completions`; the relay itself (frames, timeouts) lives in `relay/stream.py`.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, TypeVar

import aiohttp
import orjson
from starlette.requests import Request
from starlette.responses import Response

from gpuchat.core.errors import GatewayError
from gpuchat.core.security import Principal
from gpuchat.core.streaming import ClientGone, DisconnectWatch, GuardedStream, SSEResponse
from gpuchat.db.models import Client
from gpuchat.engines.control import EngineControl, EngineUnavailable, UnknownModel, Upstream
from gpuchat.engines.profiles import Profile
from gpuchat.openai import sse
from gpuchat.openai.protocol import ChatCompletionRequest, upstream_body
from gpuchat.services.filters import user_texts
from gpuchat.services.limits.admission import Ticket
from gpuchat.services.relay.deadlines import KEEPALIVE_SECONDS
from gpuchat.services.relay.stream import (
    CLIENT_CLOSED,
    STOPPED,
    RelayContext,
    finish,
    interrupt,
    open_upstream,
    relay_stream,
)
from gpuchat.services.usage.recorder import UsageRecorder

if TYPE_CHECKING:
    from gpuchat.state import AppState

T = TypeVar("T")


def engine_error(exc: UnknownModel | EngineUnavailable) -> GatewayError:
    """The one translation of the supervisor's refusals into the error envelope."""
    if isinstance(exc, UnknownModel):
        return GatewayError(
            404, f"The model '{exc.alias}' does not exist", code="model_not_found", param="model"
        )
    return GatewayError(503, exc.message, code="engine_unavailable", retry_after=exc.retry_after)


def find_profile(manager: EngineControl, alias: str) -> Profile:
    try:
        return manager.profile_for(alias)
    except UnknownModel as exc:
        raise engine_error(exc) from exc


def affinity_key(principal: Principal, chat: ChatCompletionRequest) -> str:
    """Which conversation this is, for replica affinity: the same user and the same opening
    messages are the same conversation (its later turns share that prompt prefix)."""
    digest = hashlib.blake2b(str(principal.user_id).encode(), digest_size=12)
    for message in chat.messages[:2]:
        digest.update(message.role.encode() + b"\0" + str(message.content).encode() + b"\0")
    return digest.hexdigest()


class EngineWait:
    """Waiting for an engine lease while the caller keeps its client informed (ticks)."""

    def __init__(self, manager: EngineControl, alias: str, affinity: str | None) -> None:
        self._task = asyncio.ensure_future(manager.acquire(alias, affinity=affinity))

    async def ticks(self, interval: float) -> AsyncIterator[None]:
        """One tick every `interval` seconds until the engine answers."""
        while not self._task.done():
            await asyncio.wait({self._task}, timeout=interval)
            if not self._task.done():
                yield None

    def result(self) -> Upstream:
        try:
            return self._task.result()
        except (UnknownModel, EngineUnavailable) as exc:
            raise engine_error(exc) from exc

    def cancel(self) -> None:
        """Stop waiting; a lease that arrives anyway is given back."""
        if not self._task.done():
            self._task.cancel()
            self._task.add_done_callback(_release_if_acquired)


def _release_if_acquired(task: asyncio.Future[Upstream]) -> None:
    if not task.cancelled() and task.exception() is None:
        task.result().release()


def check_model_allowed(principal: Principal, alias: str, profile_names: list[str]) -> None:
    allowed = principal.allowed_models
    if allowed is not None and not set(allowed).intersection(profile_names):
        raise GatewayError(
            403,
            f"This API key may not use the model '{alias}'",
            code="model_not_allowed",
            param="model",
        )


async def serve(
    request: Request,
    state: AppState,
    principal: Principal,
    chat: ChatCompletionRequest,
    profile: Profile,
) -> Response:
    """Limits, the queue, the engine, the answer. A streaming request that has to wait gets
    its status line at once and `: queued position=N` comments while it waits."""
    grant = await state.limits.admit(principal)
    try:
        ticket = await state.admission.admit(
            profile.name, profile.max_concurrency, str(principal.user_id)
        )
    except BaseException:
        grant.release()
        raise
    holds = (ticket.close, grant.release)
    affinity = affinity_key(principal, chat)
    if not ticket.admitted and chat.stream:
        headers = {**sse.SSE_HEADERS, **grant.headers}
        stream = _queued_stream(request, state, principal, chat, ticket, holds, affinity)
        return GuardedStream(stream, on_close=holds, headers=headers)
    watch = DisconnectWatch(request.receive)
    try:
        with watch.guard():
            if not ticket.admitted:
                await state.admission.wait(ticket)
            upstream = await state.engines.acquire(chat.model, affinity=affinity)
    except BaseException as exc:
        watch.close()
        ticket.close()
        grant.release()
        if isinstance(exc, ClientGone):
            return Response(status_code=CLIENT_CLOSED)
        if isinstance(exc, UnknownModel | EngineUnavailable):
            raise engine_error(exc) from exc
        raise
    ctx = _context(request, state, principal, chat, upstream, ticket, holds)
    response = await complete(chat, ctx, state.http, state.usage, watch)
    response.headers.update(grant.headers)
    return response


def sampled(rate: float) -> bool:
    """Whether to log this request's prompt and answer (PII masked)."""
    return rate > 0 and random.random() < rate  # noqa: S311 - sampling, not security


def _context(
    request: Request,
    state: AppState,
    principal: Principal,
    chat: ChatCompletionRequest,
    upstream: Upstream,
    ticket: Ticket,
    holds: tuple[Callable[[], None], ...],
) -> RelayContext:
    ctx = RelayContext(
        request_id=request.scope["state"]["request_id"],
        principal=principal,
        alias=chat.model,
        upstream=upstream,
        client=Client.api,
        wants_usage=chat.wants_usage_chunk,
        queue_ms=round((time.monotonic() - ticket.arrived) * 1000),
        log=request.scope["state"].setdefault("log", {}),
        live=state.live,
        holds=holds,
        tracing=state.tracing if state.tracing.enabled else None,
        client_request_id=request.scope["state"].get("client_request_id"),
    )
    if sampled(state.settings.log_sample_rate):
        ctx.collect_text = True
        ctx.sample_prompt = "\n".join(user_texts(chat.messages))
    return ctx


async def _queued_stream(
    request: Request,
    state: AppState,
    principal: Principal,
    chat: ChatCompletionRequest,
    ticket: Ticket,
    holds: tuple[Callable[[], None], ...],
    affinity: str,
) -> AsyncIterator[bytes]:
    """Queue comments, then the engine (keep-alives while it loads), then the relay. Errors
    after this point are one error frame: the status line has gone out."""
    wait: EngineWait | None = None
    try:
        async for position, _ in state.admission.positions(ticket):
            yield sse.comment_frame(f"queued position={position}")
        wait = EngineWait(state.engines, chat.model, affinity)
        async for _ in wait.ticks(KEEPALIVE_SECONDS):
            yield sse.KEEPALIVE
        ctx = _context(request, state, principal, chat, wait.result(), ticket, holds)
        upstream = await _open(chat, ctx, state.http, state.usage)
        async for frame in relay_stream(upstream, ctx, state.usage):
            yield frame
    except GatewayError as error:
        yield sse.data_frame(error.body())
    finally:
        if wait is not None:
            wait.cancel()
        for release in holds:
            release()


async def _open(
    chat: ChatCompletionRequest,
    ctx: RelayContext,
    http: aiohttp.ClientSession,
    recorder: UsageRecorder,
) -> aiohttp.ClientResponse:
    """Open the upstream request of an already-started stream and make it stoppable."""
    body = _body(chat, ctx)
    try:
        upstream = await open_upstream(http, ctx, body)
    except GatewayError:
        finish(ctx, recorder)
        raise
    _attach(ctx, upstream)
    return upstream


def _body(chat: ChatCompletionRequest, ctx: RelayContext) -> bytes:
    limits = ctx.upstream.profile.limits
    cap = limits.max_tokens
    if ctx.upstream.context is not None:
        # vLLM refuses max_tokens above its context outright; within it, it trims to what
        # the prompt leaves.
        cap = min(cap, ctx.upstream.context)
    return upstream_body(
        chat,
        model=ctx.upstream.model,
        max_tokens_cap=cap,
        default_max_tokens=limits.default_max_tokens,
    )


def _attach(ctx: RelayContext, upstream: aiohttp.ClientResponse) -> None:
    if ctx.upstream.lease is not None:
        ctx.upstream.lease.on_revoke = lambda: interrupt(ctx, upstream, "switch")
    if ctx.live is not None:
        ctx.live.add(ctx, upstream)


async def complete(
    chat: ChatCompletionRequest,
    ctx: RelayContext,
    http: aiohttp.ClientSession,
    recorder: UsageRecorder,
    watch: DisconnectWatch,
) -> Response:
    """Open the upstream request and answer: an event stream, or the engine's JSON. The
    watch is closed here, or by the event stream when it ends."""
    body = _body(chat, ctx)
    try:
        with watch.guard():
            upstream = await open_upstream(http, ctx, body, stream=chat.stream)
    except ClientGone:
        watch.close()
        ctx.fail(CLIENT_CLOSED, "client_closed")
        finish(ctx, recorder)
        return Response(status_code=CLIENT_CLOSED)
    except BaseException:
        watch.close()
        finish(ctx, recorder)
        raise
    _attach(ctx, upstream)
    if chat.stream:
        frames = relay_stream(upstream, ctx, recorder)
        return SSEResponse(frames, watch, headers=sse.SSE_HEADERS)
    try:
        return await _complete_json(upstream, ctx, recorder, watch)
    finally:
        watch.close()


async def _complete_json(
    upstream: aiohttp.ClientResponse,
    ctx: RelayContext,
    recorder: UsageRecorder,
    watch: DisconnectWatch,
) -> Response:
    timeouts = ctx.upstream.profile.timeouts
    try:
        async with asyncio.timeout(timeouts.total - (time.monotonic() - ctx.started)):
            with watch.guard():
                payload = await upstream.read()
    except ClientGone:
        ctx.fail(CLIENT_CLOSED, "client_closed")
        return Response(status_code=CLIENT_CLOSED)
    except TimeoutError as exc:
        ctx.fail(504, "upstream_timeout")
        raise GatewayError(504, "The model server timed out", code="upstream_timeout") from exc
    except (aiohttp.ClientError, OSError) as exc:
        if ctx.stopped_by is not None:
            code, message = STOPPED[ctx.stopped_by]
            ctx.fail(503, code)
            raise GatewayError(503, message, code=code) from exc
        ctx.fail(502, "upstream_broken")
        raise GatewayError(
            502, "The model server broke the connection", code="upstream_broken"
        ) from exc
    else:
        _note_usage(payload, ctx)
        ctx.done = True
        return Response(payload, media_type="application/json")
    finally:
        if ctx.done:
            upstream.release()
        else:
            upstream.close()
        finish(ctx, recorder)


def _note_usage(payload: bytes, ctx: RelayContext) -> None:
    ctx.first_token_at = time.monotonic()
    try:
        usage = orjson.loads(payload).get("usage") or {}
    except (orjson.JSONDecodeError, AttributeError):
        return
    ctx.input_tokens = usage.get("prompt_tokens")
    ctx.output_tokens = usage.get("completion_tokens")
