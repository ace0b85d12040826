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
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import orjson
import structlog

from gpuchat.core.errors import GatewayError
from gpuchat.core.tracing import Tracing
from gpuchat.engines.control import EngineUnavailable
from gpuchat.engines.environment import upstream_auth
from gpuchat.openai import sse
from gpuchat.services.filters import mask_pii
from gpuchat.services.relay.context import RelayContext
from gpuchat.services.relay.deadlines import StreamDeadlines
from gpuchat.services.relay.frames import error_frame, error_message, observe
from gpuchat.services.usage.recorder import UsageRecorder

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


class UpstreamBroken(Exception):
    """The engine broke the stream (closed early, reset, sent garbage)."""


def _upstream_headers(ctx: RelayContext) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "X-Request-Id": ctx.request_id}
    headers.update(upstream_auth(ctx.upstream.profile))
    if ctx.client_request_id is not None:
        headers["X-Client-Request-Id"] = ctx.client_request_id
    return headers


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
        message = error_message(orjson.loads(payload))
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
            out = observe(splitter.feed(chunk), ctx)
            if out:
                yield out
            if ctx.error_type:
                return
    except TimeoutError as exc:
        ctx.fail(504, "upstream_timeout")
        yield error_frame(504, str(exc) or "The model server timed out", "upstream_timeout")
    except (UpstreamBroken, aiohttp.ClientError, OSError) as exc:
        if ctx.stopped_by is not None:
            code, message = STOPPED[ctx.stopped_by]
            ctx.fail(503, code)
            yield error_frame(503, message, code)
        else:
            ctx.fail(502, "upstream_broken")
            message = (
                str(exc) if isinstance(exc, UpstreamBroken) else "The model server broke the stream"
            )
            yield error_frame(502, message, "upstream_broken")
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
