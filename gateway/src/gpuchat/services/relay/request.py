"""One upstream request, from its place in the queue to its usage row.

`/v1/chat/completions` (`services/completions.py`), a web chat turn (`services/chat/
stream.py`) and a conversation title (`services/chat/titles.py`) all reach an engine the
same way, through an `UpstreamRequest`:

    admit (a place in the queue) → wait for the turn → the engine (waiting while it loads)
    → open (POST, failover, the status line) → relay the stream, or read the JSON → finish

`finish()` is how every request ends, and it runs once whichever path gets there first (a
flag, not a convention): the engine lease, the queue ticket and the caller's holds (a rate-
limit grant) released, the live-view entry gone, one usage row recorded. `end(exc)` first
says why a request that had not ended did so (the client gone, a timeout, a refusal). As an
async context manager, leaving the block ends the request; a request
handed on (a stream returned to the client) is ended by its relay when the stream ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from types import TracebackType

import aiohttp
import orjson

from gpuchat.core.errors import GatewayError, error_type
from gpuchat.core.security import Principal
from gpuchat.core.streaming import ClientGone, DisconnectWatch
from gpuchat.core.tracing import Tracing
from gpuchat.engines.control import EngineControl, EngineUnavailable, UnknownModel, Upstream
from gpuchat.engines.profiles import Profile
from gpuchat.services.limits.admission import Admission
from gpuchat.services.limits.queue import Ticket
from gpuchat.services.relay.context import RelayContext
from gpuchat.services.relay.live import LiveStreams
from gpuchat.services.relay.stream import (
    CLIENT_CLOSED,
    STOPPED,
    finish,
    interrupt,
    open_upstream,
    relay_stream,
)
from gpuchat.services.usage.recorder import UsageRecorder

Release = Callable[[], None]
_CLIENT_GONE = (asyncio.CancelledError, GeneratorExit, ClientGone)


def engine_error(exc: UnknownModel | EngineUnavailable) -> GatewayError:
    """The one translation of the engines' refusals into the error envelope."""
    if isinstance(exc, UnknownModel):
        return GatewayError(
            404, f"The model '{exc.alias}' does not exist", code="model_not_found", param="model"
        )
    return GatewayError(503, exc.message, code="engine_unavailable", retry_after=exc.retry_after)


@dataclass(frozen=True, slots=True)
class Upstreams:
    """What every upstream request of a process uses (built once, in `main.py`)."""

    admission: Admission
    engines: EngineControl
    http: aiohttp.ClientSession
    usage: UsageRecorder
    live: LiveStreams  # this process's requests in flight (the admin's live view)
    tracing: Tracing | None = None  # set only when traces are exported
    # The share of requests whose prompt and answer are logged, read at each request (an
    # admin or a test may change it while the process runs).
    sample_rate: Callable[[], float] = lambda: 0.0


class UpstreamRequest:
    def __init__(
        self,
        upstreams: Upstreams,
        *,
        request_id: str,
        principal: Principal,
        alias: str,
        client: str,
        ticket: Ticket | None = None,
        holds: tuple[Release, ...] = (),
        affinity: str | None = None,
        wants_usage: bool = True,
        collect_text: bool = False,
        log: dict[str, object] | None = None,
        client_request_id: str | None = None,
        sample_prompt: Callable[[], str] | None = None,
    ) -> None:
        self._upstreams = upstreams
        self.request_id = request_id
        self.principal = principal
        self.alias = alias
        self.client = client
        self.ticket = ticket
        self._holds = holds
        self._affinity = affinity
        self._wants_usage = wants_usage
        self._collect_text = collect_text
        self._log = log
        self._client_request_id = client_request_id
        self._sample_prompt = sample_prompt
        self.ctx: RelayContext | None = None  # from the moment an engine is leased
        self.response: aiohttp.ClientResponse | None = None  # once the engine answered
        self.stopped_by: str | None = None  # a stop asked for before the upstream opened
        self._acquiring: asyncio.Future[Upstream] | None = None
        self.finished = False

    # The queue

    async def admit(self, profile: Profile) -> bool:
        """A place in the engine's queue; whether the request may go on at once."""
        if self.ticket is None:
            self.ticket = await self._upstreams.admission.admit(
                profile.name, profile.max_concurrency, str(self.principal.user_id)
            )
        return self.ticket.admitted

    def positions(self) -> AsyncIterator[tuple[int, float]]:
        """(position, estimated wait) while it waits (`Admission.positions`)."""
        assert self.ticket is not None, "admit() first"
        return self._upstreams.admission.positions(self.ticket)

    async def wait_turn(self) -> None:
        async for _ in self.positions():
            pass

    # The engine

    async def acquire(self) -> None:
        """Lease the engine, waiting while it loads (awaited here: no task, no extra turn
        of the event loop on the hot path)."""
        try:
            upstream = await self._upstreams.engines.acquire(self.alias, affinity=self._affinity)
        except (UnknownModel, EngineUnavailable) as exc:
            raise engine_error(exc) from exc
        self.ctx = self._context(upstream)

    async def engine(self, tick_s: float | None) -> AsyncIterator[None]:
        """Lease the engine; a tick every `tick_s` seconds while it loads (for keep-alives
        or loading events)."""
        engines = self._upstreams.engines
        self._acquiring = task = asyncio.ensure_future(
            engines.acquire(self.alias, affinity=self._affinity)
        )
        while not task.done():
            await asyncio.wait({task}, timeout=tick_s)
            if not task.done():
                yield None
        try:
            upstream = task.result()
        except (UnknownModel, EngineUnavailable) as exc:
            raise engine_error(exc) from exc
        finally:
            self._acquiring = None
        self.ctx = self._context(upstream)

    def _context(self, upstream: Upstream) -> RelayContext:
        ticket = self.ticket
        return RelayContext(
            request_id=self.request_id,
            principal=self.principal,
            alias=self.alias,
            upstream=upstream,
            client=self.client,
            wants_usage=self._wants_usage,
            collect_text=self._collect_text,
            queue_ms=ticket.waited_ms if ticket is not None else None,
            log=self._log,
            live=self._upstreams.live,
            holds=(*((ticket.close,) if ticket is not None else ()), *self._holds),
            tracing=self._upstreams.tracing,
            client_request_id=self._client_request_id,
        )

    @property
    def upstream(self) -> Upstream:
        assert self.ctx is not None, "acquire() first"
        return self.ctx.upstream

    # Upstream

    async def open(self, body: bytes, *, stream: bool = True) -> aiohttp.ClientResponse:
        """POST to the engine (failover to another replica included) and wait for its status
        line; from then on the request can be stopped (by the user, an admin, a switch)."""
        assert self.ctx is not None, "acquire() first"
        ctx = self.ctx
        rate = self._upstreams.sample_rate()
        if self._sample_prompt is not None and rate > 0 and random.random() < rate:  # noqa: S311 - sampling
            ctx.collect_text = True
            ctx.sample_prompt = self._sample_prompt()
        self.response = response = await open_upstream(
            self._upstreams.http, ctx, body, stream=stream
        )
        if ctx.upstream.lease is not None:
            ctx.upstream.lease.on_revoke = lambda: interrupt(ctx, response, "switch")
        if ctx.live is not None:
            ctx.live.add(ctx, response)
        if self.stopped_by is not None:
            interrupt(ctx, response, self.stopped_by)
        return response

    def relay(self) -> AsyncIterator[bytes]:
        """The engine's SSE frames for the client; the request finishes when they end (the
        relay's own generator calls `finish`: no second generator per chunk)."""
        assert self.ctx is not None and self.response is not None, "open() first"
        return relay_stream(self.response, self.ctx, on_end=self.finish)

    async def read(self, watch: DisconnectWatch | None = None) -> bytes:
        """The whole answer of a non-streaming request, within the profile's `total`
        timeout. Failures become GatewayErrors; a client gone (the watch) is ClientGone."""
        assert self.ctx is not None and self.response is not None, "open() first"
        ctx, response = self.ctx, self.response
        left = ctx.upstream.profile.timeouts.total - (time.monotonic() - ctx.started)
        try:
            async with asyncio.timeout(left):
                with watch.guard() if watch is not None else contextlib.nullcontext():
                    payload = await response.read()
            _note_usage(payload, ctx)
            ctx.done = True
        except ClientGone:
            ctx.fail(CLIENT_CLOSED, "client_closed")
            raise
        except TimeoutError as exc:
            ctx.fail(504, "upstream_timeout")
            raise GatewayError(504, "The model server timed out", code="upstream_timeout") from exc
        except (aiohttp.ClientError, OSError) as exc:
            if ctx.stopped_by is not None:
                code, message = STOPPED[ctx.stopped_by]
                ctx.fail(503, code)
                raise GatewayError(503, message, code=code) from exc
            ctx.fail(502, "upstream_broken")
            message = "The model server broke the connection"
            raise GatewayError(502, message, code="upstream_broken") from exc
        finally:
            if ctx.done:
                response.release()
            else:
                response.close()
        return payload

    def stop(self, by: str) -> None:
        """End the request on purpose (`STOPPED`): leave the queue if still in it, close
        the upstream if it is open (the engine stops generating), or stop it as it opens."""
        self.stopped_by = by
        if self.ticket is not None and not self.ticket.admitted:
            self.ticket.close()
        if self.ctx is not None and self.response is not None:
            interrupt(self.ctx, self.response, by)

    # The end

    def end(self, exc: BaseException | None = None) -> None:
        """Finish, first saying why a request that had not ended did so."""
        ctx = self.ctx
        if ctx is not None and not ctx.done and ctx.error_type is None and not self.finished:
            if isinstance(exc, GatewayError):
                ctx.fail(exc.status, exc.code or error_type(exc.status))
            elif isinstance(exc, TimeoutError):
                ctx.fail(504, "upstream_timeout")
            elif exc is None or isinstance(exc, _CLIENT_GONE):
                ctx.fail(CLIENT_CLOSED, "client_closed")
            else:
                ctx.fail(500, "internal_error")
        self.finish()

    def finish(self) -> None:
        """Release everything the request holds and record its usage row. Once."""
        if self.finished:
            return
        self.finished = True
        if self.ctx is not None:
            finish(self.ctx, self._upstreams.usage)  # the lease, the holds, the row
            return
        if self._acquiring is not None:  # a lease that arrives anyway is given back
            self._acquiring.cancel()
            self._acquiring.add_done_callback(_release_if_acquired)
        if self.ticket is not None:
            self.ticket.close()
        for release in self._holds:
            release()

    async def __aenter__(self) -> UpstreamRequest:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.finish()
        else:
            self.end(exc)


def _release_if_acquired(task: asyncio.Future[Upstream]) -> None:
    if not task.cancelled() and task.exception() is None:
        task.result().release()


def _note_usage(payload: bytes, ctx: RelayContext) -> None:
    ctx.first_token_at = time.monotonic()
    try:
        usage = orjson.loads(payload).get("usage") or {}
    except (orjson.JSONDecodeError, AttributeError):
        return
    ctx.input_tokens = usage.get("prompt_tokens")
    ctx.output_tokens = usage.get("completion_tokens")
