"""Streaming clients for the chaos and soak runs: N sessions, each sending its next stream
when the last one ends, through nginx over TLS. Most sessions are API clients
(`/v1/chat/completions`); a share are the web chat (`POST /api/chat`, a new conversation
per question), whose answers the gateway also stores.

Bodies and prompts are `gpuchat bench`'s (`BenchPlan`, its run tag in every prompt); the
reading is stricter than the bench's, because the question here is how each request ended,
as its client saw it:

    ok           the answer and `data: [DONE]` (web: `done` with status complete)
    http         a status other than 200 (with its Retry-After and error type)
    error_event  a 200 stream that ended with an in-stream error frame (web: `error`)
    cut          a 200 stream that ended without [DONE] (`done`) and without an error
    connect      no response at all (refused, reset before the status line)
    timeout      nothing ended it within the client's timeout: a hang
    abandoned    the client left on purpose (the soak's leaving clients)
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp
import orjson

from gpuchat.loadtest import BenchPlan

CLEAR_KINDS = frozenset({"ok", "http", "error_event", "connect", "abandoned"})


@dataclass
class Outcome:
    n: int
    t_start: float  # monotonic seconds
    t_end: float = 0.0
    ttft_s: float | None = None
    kind: str = "timeout"
    status: int | None = None
    retry_after: str | None = None
    request_id: str | None = None  # the gateway's X-Request-Id (its usage row's id)
    error: str | None = None  # the error type (envelope, frame) or exception name
    chunks: int = 0
    client: str = "v1"  # or "web": POST /api/chat
    conversation_id: int | None = None  # web: from the `start` event
    stored_status: str | None = None  # web: the `done` event's status
    text: str = field(default="", repr=False)  # web: the answer as the client read it

    def fully_ok(self, ttft_limit_s: float) -> bool:
        return self.kind == "ok" and self.ttft_s is not None and self.ttft_s <= ttft_limit_s

    def record(self, t0: float) -> dict[str, Any]:
        out = asdict(self)
        out.pop("text")
        out["t_start"] = round(self.t_start - t0, 3)
        out["t_end"] = round(self.t_end - t0, 3)
        if self.ttft_s is not None:
            out["ttft_s"] = round(self.ttft_s, 3)
        return out


@dataclass
class Load:
    url: str  # nginx, https://127.0.0.1:port
    api_key: str
    streams: int
    context: ssl.SSLContext
    timeout_s: float = 90.0
    abandon_share: float = 0.0  # this share of requests is left at a random moment
    abandon_within_s: float = 4.0
    prompt_tokens: int = 48
    web_share: float = 0.25  # this share of the sessions is the web chat
    seed: int = 0
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.plan = BenchPlan(
            base_url=f"{self.url}/v1",
            model="default",
            api_key=self.api_key,
            prompt_tokens=self.prompt_tokens,
            max_tokens=256,
        )
        self.random = random.Random(self.seed)  # the same clients leave in every run

    async def __aenter__(self) -> Load:
        connector = aiohttp.TCPConnector(limit=0, ssl=self.context)
        self.http = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=None, sock_connect=10)
        )
        web = round(self.streams * self.web_share)
        self._tasks = [
            asyncio.create_task(self._session("web" if i < web else "v1"))
            for i in range(self.streams)
        ]
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        """No new requests; those in flight end (each within its timeout)."""
        self._stop.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.http.close()

    async def _session(self, client: str) -> None:
        while not self._stop.is_set():
            outcome = Outcome(n=len(self.outcomes), t_start=time.monotonic(), client=client)
            self.outcomes.append(outcome)
            leave = self.random.random() < self.abandon_share
            leave_at = self.random.uniform(0, self.abandon_within_s) if leave else None
            await self._one(outcome, leave_at)
            if outcome.kind not in ("ok", "abandoned"):
                await asyncio.sleep(0.2)  # a client backs off a little after an error

    async def _one(self, outcome: Outcome, leave_at: float | None) -> None:
        try:
            async with asyncio.timeout(self.timeout_s if leave_at is None else leave_at):
                await self._request(outcome)
        except TimeoutError:
            outcome.kind = "timeout" if leave_at is None else "abandoned"
        except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError) as exc:
            outcome.kind = "cut" if outcome.status == 200 else "connect"
            outcome.error = type(exc).__name__
        except (aiohttp.ClientError, OSError) as exc:
            outcome.kind = "cut" if outcome.status == 200 else "connect"
            outcome.error = type(exc).__name__
        outcome.t_end = time.monotonic()

    async def _request(self, outcome: Outcome) -> None:
        if outcome.client == "web":
            url = f"{self.url}/api/chat"
            body = orjson.dumps({"content": self.plan.prompt(outcome.n), "max_tokens": 256})
        else:
            url = f"{self.url}/v1/chat/completions"
            body = self.plan.body(outcome.n)
        async with self.http.post(url, data=body, headers=self.plan.headers()) as response:
            outcome.status = response.status
            outcome.request_id = response.headers.get("X-Request-Id")
            outcome.retry_after = response.headers.get("Retry-After")
            if response.status != 200:
                outcome.kind = "http"
                with contextlib.suppress(orjson.JSONDecodeError, aiohttp.ClientError):
                    outcome.error = _error_type(orjson.loads(await response.read()))
                return
            outcome.kind = "cut"  # until [DONE] or an error frame says otherwise
            if outcome.client == "web":
                await self._read_web(response, outcome)
                return
            async for raw in response.content:
                line = raw.strip()
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    if outcome.kind == "cut":
                        outcome.kind = "ok"
                    return
                self._frame(outcome, data)

    @staticmethod
    async def _read_web(response: aiohttp.ClientResponse, outcome: Outcome) -> None:
        """The web chat's typed events, to the end of the stream (a title follows `done`)."""
        event = ""
        async for raw in response.content:
            line = raw.strip()
            if line.startswith(b"event:"):
                event = line[6:].strip().decode()
                continue
            if not line.startswith(b"data:"):
                continue
            data = orjson.loads(line[5:].strip())
            if event == "start":
                outcome.request_id = data.get("request_id")
                outcome.conversation_id = data.get("conversation_id")
            elif event == "delta":
                outcome.text += data.get("text", "")
                outcome.chunks += 1
                if outcome.ttft_s is None:
                    outcome.ttft_s = time.monotonic() - outcome.t_start
            elif event == "error":
                outcome.kind, outcome.error = "error_event", _error_type(data)
            elif event == "done":
                outcome.stored_status = data.get("status")
                if outcome.kind == "cut" and outcome.stored_status == "complete":
                    outcome.kind = "ok"

    @staticmethod
    def _frame(outcome: Outcome, data: bytes) -> None:
        try:
            frame = orjson.loads(data)
        except orjson.JSONDecodeError:
            outcome.kind, outcome.error = "error_event", "malformed frame"
            return
        if not isinstance(frame, dict):
            return
        if frame.get("error") is not None:
            outcome.kind, outcome.error = "error_event", _error_type(frame)
            return
        for choice in frame.get("choices") or ():
            if (choice.get("delta") or {}).get("content"):
                outcome.chunks += 1
                if outcome.ttft_s is None:
                    outcome.ttft_s = time.monotonic() - outcome.t_start


def _error_type(body: Any) -> str:
    error = body.get("error", body.get("detail")) if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("code") or error.get("type") or error.get("message"))[:80]
    return str(error)[:80]
