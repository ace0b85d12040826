"""Benchmark automatically after a model switch (seed §13), and read the results back.

When an admin activates a profile whose `benchmark.after_switch` is on, one background
task waits for the engine to be ready, then sends a few short streamed requests at each
configured concurrency (1 and 5 by default) and stores TTFT, time per output token and
requests per minute in `benchmarks`. It is bounded (request count, max_tokens, a total
timeout), holds ordinary leases (a later switch drains it like any stream), runs at most
once at a time, and gives up quietly if the engine goes away. Numbers from one process on
a shared engine are indicative, not a load test; `bench/` holds the real benchmarks.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from typing import Any, Final

import aiohttp
import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gpuchat.core.db import session_scope
from gpuchat.db.models import Benchmark
from gpuchat.engines.control import EngineControl, EngineUnavailable, Upstream
from gpuchat.engines.profiles import AutoBenchmark

log = logging.getLogger(__name__)

PROMPT: Final = "Explain in three sentences why the sky is blue."


class AutoBenchmarks:
    def __init__(
        self,
        engines: EngineControl,
        http: aiohttp.ClientSession,
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        self._engines, self._http, self._sessions = engines, http, sessions
        self._task: asyncio.Task[None] | None = None

    def after_switch(self, name: str) -> bool:
        """Schedule a run for `name` if its profile asks for one; True when scheduled."""
        settings = self._engines.profile_for(name).benchmark
        if not settings.after_switch or (self._task is not None and not self._task.done()):
            return False
        self._task = asyncio.create_task(self._run(name, settings))
        return True

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def wait(self) -> None:
        """For tests: until the current run (if any) is over."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self, name: str, settings: AutoBenchmark) -> None:
        try:
            async with asyncio.timeout(settings.timeout):
                await self._engines.ensure_ready(name)
                results = {
                    f"concurrency_{level}": await self._level(name, level, settings)
                    for level in settings.concurrency
                }
        except (TimeoutError, EngineUnavailable) as exc:
            log.info("benchmark of %s abandoned: %s", name, exc)
            return
        parameters = {**settings.model_dump(exclude={"after_switch"}), "trigger": "switch"}
        async with session_scope(self._sessions) as session:
            session.add(Benchmark(profile=name, parameters=parameters, results=results))
        log.info("benchmark of %s stored: %s", name, results)

    async def _level(self, name: str, level: int, settings: AutoBenchmark) -> dict[str, Any]:
        gate = asyncio.Semaphore(level)

        async def one() -> tuple[float, float, int] | None:
            async with gate:
                upstream = await self._engines.acquire(name)
                try:
                    return await _timed_request(self._http, upstream, settings.max_tokens)
                finally:
                    upstream.release()

        started = time.monotonic()
        runs = await asyncio.gather(*(one() for _ in range(settings.requests)))
        elapsed = time.monotonic() - started
        ok = [run for run in runs if run is not None]
        tpot = [(total - ttft) / (tokens - 1) for ttft, total, tokens in ok if tokens > 1]
        return {
            "requests": len(runs),
            "errors": len(runs) - len(ok),
            "ttft_ms_p50": _ms(statistics.median([ttft for ttft, _, _ in ok])) if ok else None,
            "tpot_ms": _ms(statistics.mean(tpot)) if tpot else None,
            "requests_per_min": round(len(ok) * 60 / elapsed, 1) if elapsed > 0 else None,
            "output_tokens": sum(tokens for _, _, tokens in ok),
        }


async def _timed_request(
    http: aiohttp.ClientSession, upstream: Upstream, max_tokens: int
) -> tuple[float, float, int] | None:
    """(seconds to first token, seconds in all, content chunks), or None on any failure."""
    body = {
        "model": upstream.model,
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
    }
    started, first, chunks = time.monotonic(), None, 0
    try:
        async with http.post(
            f"{upstream.base_url}/chat/completions",
            data=orjson.dumps(body),
            headers={"Content-Type": "application/json"},
            allow_redirects=False,
        ) as response:
            if response.status != 200:
                return None
            async for line in response.content:
                if line.startswith(b"data: {") and b'"content":"' in line.replace(b" ", b""):
                    chunks += 1
                    first = first or time.monotonic()
    except (aiohttp.ClientError, OSError):
        return None
    if first is None:
        return None
    return first - started, time.monotonic() - started, chunks


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


async def list_benchmarks(
    session: AsyncSession, *, profile: str | None, limit: int
) -> list[dict[str, Any]]:
    query = select(Benchmark).order_by(Benchmark.created.desc(), Benchmark.id.desc())
    if profile is not None:
        query = query.where(Benchmark.profile == profile)
    rows = (await session.scalars(query.limit(limit))).all()
    return [
        {
            "id": row.id,
            "profile": row.profile,
            "parameters": row.parameters,
            "results": row.results,
            "created": row.created.isoformat(),
        }
        for row in rows
    ]
