"""A chat completion from start to end: resolve the engine, open the upstream, answer.

Used by `/v1/chat/completions`; the relay itself (frames, timeouts) lives in `relay.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Awaitable
from typing import TypeVar

import aiohttp
import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gpuchat.core.errors import GatewayError
from gpuchat.db.repositories.users import Principal
from gpuchat.engines.control import EngineControl, EngineUnavailable, UnknownModel, Upstream
from gpuchat.engines.profiles import Profile
from gpuchat.openai import sse
from gpuchat.openai.protocol import ChatCompletionRequest, upstream_body
from gpuchat.services import relay
from gpuchat.services.usage import UsageRecorder

T = TypeVar("T")


class ClientDisconnected(Exception):
    """The client went away while we were waiting for something on its behalf."""


async def until_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Run `work`, cancelling it the moment the client disconnects (body already read)."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if task in done:
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    raise ClientDisconnected


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


def find_profile(manager: EngineControl, alias: str) -> Profile:
    try:
        return manager.profile_for(alias)
    except UnknownModel as exc:
        raise GatewayError(
            404, f"The model '{alias}' does not exist", code="model_not_found", param="model"
        ) from exc


def affinity_key(principal: Principal, chat: ChatCompletionRequest) -> str:
    """Which conversation this is, for replica affinity: the same user and the same opening
    messages are the same conversation (its later turns share that prompt prefix)."""
    digest = hashlib.blake2b(str(principal.user_id).encode(), digest_size=12)
    for message in chat.messages[:2]:
        digest.update(message.role.encode() + b"\0" + str(message.content).encode() + b"\0")
    return digest.hexdigest()


async def resolve_engine(
    manager: EngineControl, request: Request, alias: str, *, affinity: str | None = None
) -> Upstream:
    """The engine for `alias`, leased: every path after this must end in `relay.finish()`."""
    try:
        return await until_disconnect(request, manager.acquire(alias, affinity=affinity))
    except UnknownModel as exc:
        raise GatewayError(
            404, f"The model '{alias}' does not exist", code="model_not_found", param="model"
        ) from exc
    except EngineUnavailable as exc:
        raise GatewayError(
            503, exc.message, code="engine_unavailable", retry_after=exc.retry_after
        ) from exc


def check_model_allowed(principal: Principal, alias: str, profile_names: list[str]) -> None:
    allowed = principal.allowed_models
    if allowed is not None and not set(allowed).intersection(profile_names):
        raise GatewayError(
            403,
            f"This API key may not use the model '{alias}'",
            code="model_not_allowed",
            param="model",
        )


async def complete(
    request: Request,
    chat: ChatCompletionRequest,
    ctx: relay.RelayContext,
    http: aiohttp.ClientSession,
    recorder: UsageRecorder,
) -> Response:
    limits = ctx.upstream.profile.limits
    body = upstream_body(
        chat,
        model=ctx.upstream.model,
        max_tokens_cap=limits.max_tokens,
        default_max_tokens=limits.default_max_tokens,
    )
    try:
        upstream = await until_disconnect(request, relay.open_upstream(http, ctx, body))
    except ClientDisconnected:
        ctx.fail(relay.CLIENT_CLOSED, "client_closed")
        relay.finish(ctx, recorder)
        return Response(status_code=relay.CLIENT_CLOSED)
    except GatewayError:
        relay.finish(ctx, recorder)
        raise
    if ctx.upstream.lease is not None:
        ctx.upstream.lease.on_revoke = lambda: relay.interrupt(ctx, upstream, "switch")
    if ctx.live is not None:
        ctx.live.add(ctx, upstream)
    if chat.stream:
        return StreamingResponse(
            relay.relay_stream(upstream, ctx, recorder),
            media_type="text/event-stream",
            headers=sse.SSE_HEADERS,
        )
    return await _complete_json(request, upstream, ctx, recorder)


async def _complete_json(
    request: Request,
    upstream: aiohttp.ClientResponse,
    ctx: relay.RelayContext,
    recorder: UsageRecorder,
) -> Response:
    timeouts = ctx.upstream.profile.timeouts
    try:
        async with asyncio.timeout(timeouts.total - (time.monotonic() - ctx.started)):
            payload = await until_disconnect(request, upstream.read())
    except ClientDisconnected:
        ctx.fail(relay.CLIENT_CLOSED, "client_closed")
        return Response(status_code=relay.CLIENT_CLOSED)
    except TimeoutError as exc:
        ctx.fail(504, "upstream_timeout")
        raise GatewayError(504, "The model server timed out", code="upstream_timeout") from exc
    except (aiohttp.ClientError, OSError) as exc:
        if ctx.stopped_by is not None:
            code, message = relay.STOPPED[ctx.stopped_by]
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
        relay.finish(ctx, recorder)


def _note_usage(payload: bytes, ctx: relay.RelayContext) -> None:
    ctx.first_token_at = time.monotonic()
    try:
        usage = orjson.loads(payload).get("usage") or {}
    except (orjson.JSONDecodeError, AttributeError):
        return
    ctx.input_tokens = usage.get("prompt_tokens")
    ctx.output_tokens = usage.get("completion_tokens")
