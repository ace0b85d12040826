"""The streaming relay: upstream SSE bytes to the client, frame by frame, observed on the way.

Frames are forwarded as they arrive, never re-serialised, except the one usage frame, which
is dropped when the client did not ask for it. The relay only looks into frames for what it
must know: the first content token (TTFT), the usage numbers, an upstream error frame, the
end marker, and, when the caller keeps the answer (the web chat), the delta text.
See `design.md` beside it for the contract.
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
import structlog

from gpuchat.core.errors import GatewayError, error_body
from gpuchat.core.security import Principal
from gpuchat.core.tracing import Tracing
from gpuchat.engines.control import EngineUnavailable, Upstream
from gpuchat.engines.environment import upstream_auth
from gpuchat.openai import sse
from gpuchat.services.filters import mask_pii
from gpuchat.services.relay.deadlines import StreamDeadlines
from gpuchat.services.usage.recorder import UsageRecord, UsageRecorder

if TYPE_CHECKING:
    from gpuchat.services.relay.live import LiveStreams

log = structlog.get_logger("gpuchat.sample")
warnings = structlog.get_logger("gpuchat.relay")

SAMPLE_CHARS = 4000
STALE_RETRIES = 2
# An engine's answers that another replica may not give: a proxy in front of a dead engine
# (502, 504), an engine still loading or full (503). 500 is the engine failing on this
# request, which another replica would most likely do too.
RETRIED_STATUSES = frozenset({502, 503, 504})
CLIENT_CLOSED = 499  # nginx's code for "client closed request"; never sent, only recorded

# Why a stream was ended on purpose -> (code, message) of its error event.
STOPPED = {
    "admin": ("stopped_by_admin", "An administrator stopped this generation"),
    "switch": ("model_switched", "The model was switched before this answer finished"),
    "user": ("stopped", "Stopped"),
}

# A token of the answer or of a reasoning model's thinking (vLLM's `reasoning`, formerly
# `reasoning_content`): either counts for the first token.
_CONTENT = re.compile(rb'"(?:content|reasoning|reasoning_content)":\s*"(?!")')
_USAGE = re.compile(rb'"usage":\s*\{')


class UpstreamBroken(Exception):
    """The engine broke the stream (closed early, reset, sent garbage)."""


@dataclass(slots=True)
class RelayContext:
    """One upstream request: who asked, where it goes, and what was learned on the way."""

    request_id: str  # the gateway's own id (unique; the usage row's key)
    principal: Principal
    alias: str
    upstream: Upstream
    client: str
    wants_usage: bool
    collect_text: bool = False
    started: float = field(default_factory=time.monotonic)
    queue_ms: int | None = None
    # Observations
    first_token_at: float | None = None
    content_chunks: int = 0
    input_tokens: int | None = None
    output_tokens: int | None = None
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)  # the thinking, when collecting text
    done: bool = False
    status_code: int = 200
    error_type: str | None = None
    live: LiveStreams | None = None  # the admin's live view, when the caller keeps one
    stopped_by: str | None = None  # "admin" or "switch": who closed the upstream on purpose
    log: dict[str, object] | None = None  # the access-log line's fields, filled in at the end
    # Released in `finish()`, once: the admission slot and the caller's stream grant.
    holds: tuple[Callable[[], None], ...] = ()
    tracing: Tracing | None = None  # set only when traces are exported
    sample_prompt: str | None = None  # set when this request's prompt and answer are logged
    client_request_id: str | None = None  # the client's X-Request-Id: a label, never a key

    def usage_record(self) -> UsageRecord:
        now = time.monotonic()
        estimated = self.output_tokens is None and self.content_chunks > 0
        return UsageRecord(
            request_id=self.request_id,
            client_request_id=self.client_request_id,
            client=self.client,
            model_alias=self.alias,
            status_code=self.status_code,
            user_id=self.principal.user_id,
            api_key_id=self.principal.api_key_id,
            profile=self.upstream.profile.name,
            engine=self.upstream.profile.engine.value,
            ctx_len=self.input_tokens,
            input_tokens=self.input_tokens,
            output_tokens=self.content_chunks if estimated else self.output_tokens,
            tokens_estimated=estimated,
            ttft_ms=_ms(self.first_token_at - self.started) if self.first_token_at else None,
            latency_ms=_ms(now - self.started),
            queue_ms=self.queue_ms,
            error_type=self.error_type,
        )

    def fail(self, status: int, error_type: str) -> None:
        self.status_code, self.error_type = status, error_type


def _upstream_headers(ctx: RelayContext) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "X-Request-Id": ctx.request_id}
    headers.update(upstream_auth(ctx.upstream.profile))
    if ctx.client_request_id is not None:
        headers["X-Client-Request-Id"] = ctx.client_request_id
    return headers


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


async def open_upstream(
    http: aiohttp.ClientSession, ctx: RelayContext, body: bytes, *, stream: bool = True
) -> aiohttp.ClientResponse:
    """POST to the engine and wait for its status line. Non-2xx becomes a GatewayError:
    4xx pass through with the engine's message, 5xx and connection failures become 502.

    Failover: a replica that fails before it answered anything (no connection, a reset,
    502/503/504) is left for another healthy replica of the profile, each tried once, while
    the profile's connect budget lasts; nothing has reached the client yet. A 4xx is the
    request's own fault and is not sent again. The wait for the status line counts against
    the first-token deadline (the whole answer's, `total`, when not streaming: the engine
    sends its status line with the answer)."""
    timeouts = ctx.upstream.profile.timeouts
    wait = min(timeouts.first_token, timeouts.total) if stream else timeouts.total
    what = "first token" if stream and timeouts.first_token <= timeouts.total else "answer"
    answer_by, retry_until = ctx.started + wait, time.monotonic() + timeouts.connect
    while True:
        outcome = await _attempt(http, ctx, body, answer_by, what)
        if isinstance(outcome, aiohttp.ClientResponse):
            return outcome
        failed, failover = ctx.upstream, ctx.upstream.failover
        if failover is None or time.monotonic() >= retry_until:
            raise outcome
        failed.release(failed=True)  # the router skips it until a probe finds it healthy
        try:
            ctx.upstream = await failover()
        except EngineUnavailable:
            raise outcome from None  # every other replica is down, or already tried
        ctx.status_code, ctx.error_type = 200, None
        warnings.warning(
            "upstream_failover",
            request_id=ctx.request_id,
            profile=failed.profile.name,
            failed=failed.base_url,
            to=ctx.upstream.base_url,
        )


async def _attempt(
    http: aiohttp.ClientSession, ctx: RelayContext, body: bytes, answer_by: float, what: str
) -> aiohttp.ClientResponse | GatewayError:
    """One POST to `ctx.upstream`: its response (2xx), or the error of a failure another
    replica may not have (returned); what would fail anywhere is raised."""
    post = functools.partial(
        http.post,
        f"{ctx.upstream.base_url}/chat/completions",
        data=body,
        headers=_upstream_headers(ctx),
        allow_redirects=False,
        timeout=aiohttp.ClientTimeout(
            total=None, connect=ctx.upstream.profile.timeouts.connect, sock_read=None
        ),
    )
    deadline = asyncio.timeout(answer_by - time.monotonic())
    try:
        async with deadline:
            response = await _post_once_more_if_stale(post)
    except (aiohttp.ClientError, OSError) as exc:  # TimeoutError is an OSError
        if deadline.expired():
            ctx.fail(504, "upstream_timeout")
            message = f"The model server did not send the {what} in time"
            raise GatewayError(504, message, code="upstream_timeout") from None
        ctx.fail(502, "upstream_unreachable")
        warnings.warning(
            "upstream_unreachable",
            request_id=ctx.request_id,
            profile=ctx.upstream.profile.name,
            url=ctx.upstream.base_url,
            error=repr(exc),
        )
        return GatewayError(
            502, "The model server could not be reached", code="upstream_unreachable", retry_after=5
        )
    if response.status < 300:
        return response
    try:
        error = await _upstream_error(response, ctx)
    finally:
        response.release()
    if response.status in RETRIED_STATUSES:
        return error
    raise error


async def _post_once_more_if_stale(
    post: Callable[[], Awaitable[aiohttp.ClientResponse]],
) -> aiohttp.ClientResponse:
    """A pooled keep-alive connection that the engine closed just as it was reused fails
    before any answer; the request goes again, on another connection (up to twice)."""
    for _ in range(STALE_RETRIES):
        try:
            return await post()
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            if isinstance(exc, aiohttp.ClientConnectorError):
                raise  # no connection at all: the engine is not there
    return await post()


async def _upstream_error(response: aiohttp.ClientResponse, ctx: RelayContext) -> GatewayError:
    try:
        async with asyncio.timeout(ctx.upstream.profile.timeouts.connect):
            payload = await response.read()
        message = _error_message(orjson.loads(payload))
    except (TimeoutError, aiohttp.ClientError, orjson.JSONDecodeError):
        message = None
    if 400 <= response.status < 500:
        status = response.status
        ctx.fail(status, "upstream_rejected")
        return GatewayError(
            status,
            message or f"The model server refused the request ({status})",
            code="upstream_rejected",
            source="upstream",
        )
    ctx.fail(502, "upstream_error")
    return GatewayError(
        502,
        f"The model server failed ({response.status})",
        code="upstream_error",
        source="upstream",
        retry_after=5,
    )


def _error_message(payload: Any) -> str | None:
    if isinstance(payload, dict):
        error = payload.get("error", payload)
        message = error.get("message") if isinstance(error, dict) else None
        if isinstance(message, str):
            return message[:2000]
        if isinstance(error, str):
            return error[:2000]
    return None


async def relay_stream(
    response: aiohttp.ClientResponse,
    ctx: RelayContext,
    on_end: Callable[[], None] = lambda: None,
) -> AsyncIterator[bytes]:
    """Yield complete SSE frames until `[DONE]`, an error frame, a timeout or a disconnect;
    then `on_end` (the request's `finish`, `request.py`)."""
    splitter = sse.FrameSplitter()
    watchdog = StreamDeadlines(ctx)
    try:
        while not ctx.done:
            chunk = await watchdog.read(response)
            if chunk is None:
                yield sse.KEEPALIVE
                continue
            if not chunk:
                raise UpstreamBroken("the model server closed the stream before it finished")
            out = _observe(splitter.feed(chunk), ctx)
            if out:
                yield out
            if ctx.error_type:
                return
    except TimeoutError as exc:
        ctx.fail(504, "upstream_timeout")
        yield _error_frame(504, str(exc) or "The model server timed out", "upstream_timeout")
    except (UpstreamBroken, aiohttp.ClientError, OSError) as exc:
        if ctx.stopped_by is not None:
            code, message = STOPPED[ctx.stopped_by]
            ctx.fail(503, code)
            yield _error_frame(503, message, code)
        else:
            ctx.fail(502, "upstream_broken")
            message = (
                str(exc) if isinstance(exc, UpstreamBroken) else "The model server broke the stream"
            )
            yield _error_frame(502, message, "upstream_broken")
    except (asyncio.CancelledError, GeneratorExit):
        ctx.fail(CLIENT_CLOSED, "client_closed")
        raise
    finally:
        watchdog.stop()
        # A clean end returns the connection to the pool; anything else closes it, which is
        # how the engine learns to stop generating.
        if ctx.done and not ctx.error_type:
            response.release()
        else:
            response.close()
        on_end()


def interrupt(ctx: RelayContext, response: aiohttp.ClientResponse, by: str) -> None:
    """End a request on purpose: the engine sees its connection closed, the client gets
    one error event saying why (never a silent `[DONE]`)."""
    ctx.stopped_by = by
    response.close()


def finish(ctx: RelayContext, recorder: UsageRecorder) -> None:
    """The end of an upstream request: its lease and holds released, one usage row. Called
    by `UpstreamRequest.finish()`, which makes it once."""
    # The engine's lease first: a switch waiting to drain this engine learns at once.
    ctx.upstream.release(failed=ctx.error_type == "upstream_unreachable")
    for release in ctx.holds:
        release()
    if ctx.live is not None:
        ctx.live.discard(ctx.request_id)
    row = ctx.usage_record()
    recorder.record(row)
    if ctx.log is not None:
        ctx.log.update(
            user_id=row.user_id,
            model=row.model_alias,
            ctx_len=row.ctx_len,
            input_tokens=row.input_tokens,
            output_tokens=row.output_tokens,
            ttft_ms=row.ttft_ms,
            latency_ms=row.latency_ms,
            upstream_status=row.status_code,
        )
    if ctx.tracing is not None:
        _trace(ctx, ctx.tracing)
    if ctx.sample_prompt is not None:
        log.info(
            "sample",
            request_id=ctx.request_id,
            prompt=mask_pii(ctx.sample_prompt)[:SAMPLE_CHARS],
            answer=mask_pii("".join(ctx.text))[:SAMPLE_CHARS],
        )


def _trace(ctx: RelayContext, tracing: Tracing) -> None:
    now = time.monotonic()
    if ctx.queue_ms:
        tracing.record("queue", ctx.started - ctx.queue_ms / 1000, ctx.started)
    tracing.record(
        "upstream",
        ctx.started,
        now,
        attributes={
            "gpuchat.model": ctx.alias,
            "gpuchat.profile": ctx.upstream.profile.name,
            "gpuchat.status": ctx.status_code,
            "gpuchat.input_tokens": ctx.input_tokens,
            "gpuchat.output_tokens": ctx.output_tokens,
        },
        events={"first_token": ctx.first_token_at},
    )


def _observe(frames: list[bytes], ctx: RelayContext) -> bytes:
    """Note what the frames say; return the bytes to forward."""
    keep: list[bytes] = []
    for frame in frames:
        if frame == sse.DONE:
            ctx.done = True
            keep.append(frame)
            break
        if frame.startswith(b'data: {"error"'):
            keep.append(_upstream_error_frame(frame, ctx))
            break
        if _CONTENT.search(frame):
            ctx.content_chunks += 1
            if ctx.first_token_at is None:
                ctx.first_token_at = time.monotonic()
            if ctx.collect_text:
                text, thought = _delta_texts(frame)
                ctx.text.append(text)
                if thought:
                    ctx.reasoning.append(thought)
        if _USAGE.search(frame):
            frame = _take_usage(frame, ctx)
        if frame:
            keep.append(frame)
    return b"".join(keep)


def _take_usage(frame: bytes, ctx: RelayContext) -> bytes:
    """Record the usage numbers; drop or rewrite the frame when the client did not ask."""
    try:
        payload = orjson.loads(frame[5:])
    except orjson.JSONDecodeError:
        return frame
    usage = payload.get("usage") or {}
    ctx.input_tokens = usage.get("prompt_tokens", ctx.input_tokens)
    ctx.output_tokens = usage.get("completion_tokens", ctx.output_tokens)
    if ctx.wants_usage:
        return frame
    if not payload.get("choices"):
        return b""
    payload.pop("usage", None)
    return sse.data_frame(payload)


def _delta_texts(frame: bytes) -> tuple[str, str]:
    """(answer text, thinking text) of one chunk."""
    try:
        payload = orjson.loads(frame[5:])
        delta = payload["choices"][0]["delta"]
        thought = delta.get("reasoning") or delta.get("reasoning_content") or ""
        return str(delta.get("content") or ""), str(thought)
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError):
        return "", ""


def _upstream_error_frame(frame: bytes, ctx: RelayContext) -> bytes:
    try:
        message = _error_message(orjson.loads(frame[5:]))
    except orjson.JSONDecodeError:
        message = None
    ctx.fail(502, "upstream_error")
    return sse.data_frame(
        error_body(
            message or "The model server reported an error",
            502,
            code="upstream_error",
            source="upstream",
        )
    )


def _error_frame(status: int, message: str, code: str) -> bytes:
    return sse.data_frame(error_body(message, status, code=code))
