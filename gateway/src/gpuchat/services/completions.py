"""`/v1/chat/completions` from start to end: the limits, then one `UpstreamRequest`
(`relay/request.py`: the queue, the engine, the upstream, the relay) answered as an event
stream or as the engine's JSON."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response

from gpuchat.core.errors import GatewayError
from gpuchat.core.security import Principal
from gpuchat.core.streaming import ClientGone, DisconnectWatch, SSEResponse
from gpuchat.db.models import Client
from gpuchat.engines.control import EngineControl, UnknownModel, Upstream
from gpuchat.engines.profiles import Profile
from gpuchat.openai import sse
from gpuchat.openai.protocol import ChatCompletionRequest, upstream_body
from gpuchat.openai.sse import KEEPALIVE_SECONDS
from gpuchat.services.filters import user_texts
from gpuchat.services.limits.quotas import UsageLimits
from gpuchat.services.relay.request import UpstreamRequest, Upstreams, engine_error
from gpuchat.services.relay.stream import CLIENT_CLOSED


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


def groups_allow(principal: Principal, profile_names: list[str]) -> bool:
    """Whether the user's groups let them use a profile (named by any of its names)."""
    models = principal.group_models
    return models is None or not set(models).isdisjoint(profile_names)


def usable_model(engines: EngineControl, principal: Principal, alias: str) -> str:
    """`alias` when the caller may use it (or it is unknown: the 404 follows); else the first
    model they may use, in the order of `/v1/models`; else `alias` (the 403 follows). For a
    default the caller did not name: a user whose groups leave out the active model starts
    on one of theirs."""
    try:
        names = engines.profile_for(alias).names
    except UnknownModel:
        return alias
    if _may_use(principal, names):
        return alias
    for status in engines.statuses():
        if status.available and _may_use(principal, [status.name, *status.aliases]):
            return status.name
    return alias


def _may_use(principal: Principal, profile_names: list[str]) -> bool:
    allowed = principal.allowed_models
    key_allows = allowed is None or not set(allowed).isdisjoint(profile_names)
    return key_allows and groups_allow(principal, profile_names)


def check_model_allowed(principal: Principal, alias: str, profile_names: list[str]) -> None:
    """403 when the API key's `allowed_models` or the user's groups leave the profile out:
    both must allow it."""
    allowed = principal.allowed_models
    if allowed is not None and not set(allowed).intersection(profile_names):
        raise GatewayError(
            403,
            f"This API key may not use the model '{alias}'",
            code="model_not_allowed",
            param="model",
        )
    if not groups_allow(principal, profile_names):
        raise GatewayError(
            403,
            f"Your groups do not allow the model '{alias}'",
            code="model_not_allowed",
            param="model",
        )


async def serve(
    request: Request,
    upstreams: Upstreams,
    limits: UsageLimits,
    principal: Principal,
    chat: ChatCompletionRequest,
    profile: Profile,
) -> Response:
    """Limits, the queue, the engine, the answer. A streaming request that has to wait gets
    its status line at once and `: queued position=N` comments while it waits."""
    grant = await limits.admit(principal)
    scope_state = request.scope["state"]
    req = UpstreamRequest(
        upstreams,
        request_id=scope_state["request_id"],
        principal=principal,
        alias=chat.model,
        client=Client.api,
        holds=(grant.release,),
        affinity=affinity_key(principal, chat),
        wants_usage=chat.wants_usage_chunk,
        log=scope_state.setdefault("log", {}),
        client_request_id=scope_state.get("client_request_id"),
        sample_prompt=lambda: "\n".join(user_texts(chat.messages)),
    )
    try:
        admitted = await req.admit(profile)
    except BaseException as exc:
        req.end(exc)
        raise
    watch = DisconnectWatch(request.receive)
    if not admitted and chat.stream:
        headers = {**sse.SSE_HEADERS, **grant.headers}
        frames = _queued_stream(req, chat)
        return SSEResponse(frames, watch, on_close=(req.finish,), headers=headers)
    try:
        with watch.guard():
            if not admitted:
                await req.wait_turn()
            await req.acquire()
            await req.open(_body(chat, req.upstream), stream=chat.stream)
    except BaseException as exc:
        watch.close()
        req.end(exc)
        if isinstance(exc, ClientGone):
            return Response(status_code=CLIENT_CLOSED)
        raise
    if chat.stream:
        response: Response = SSEResponse(
            req.relay(), watch, on_close=(req.finish,), headers=sse.SSE_HEADERS
        )
    else:
        try:
            async with req:
                response = Response(await req.read(watch), media_type="application/json")
        except ClientGone:
            response = Response(status_code=CLIENT_CLOSED)
        finally:
            watch.close()
    response.headers.update(grant.headers)
    return response


async def _queued_stream(req: UpstreamRequest, chat: ChatCompletionRequest) -> AsyncIterator[bytes]:
    """Queue comments, then the engine (keep-alives while it loads), then the relay. Errors
    after this point are one error frame: the status line has gone out."""
    async with req:
        try:
            async for position, _ in req.positions():
                yield sse.comment_frame(f"queued position={position}")
            async for _ in req.engine(KEEPALIVE_SECONDS):
                yield sse.KEEPALIVE
            await req.open(_body(chat, req.upstream))
            async for frame in req.relay():
                yield frame
        except GatewayError as error:
            yield sse.data_frame(error.body())


def _body(chat: ChatCompletionRequest, upstream: Upstream) -> bytes:
    profile = upstream.profile
    cap = profile.limits.max_tokens
    if upstream.context is not None:
        # vLLM refuses max_tokens above its context outright; within it, it trims to what
        # the prompt leaves.
        cap = min(cap, upstream.context)
    return upstream_body(
        chat,
        model=upstream.model,
        max_tokens_cap=cap,
        defaults=profile.defaults.engine_fields(profile.engine),
        system_prompt=profile.system_prompt,
    )
