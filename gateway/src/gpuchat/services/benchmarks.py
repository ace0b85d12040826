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
from gpuchat.engines.control import EngineControl, EngineUnavailable
from gpuchat.engines.environment import upstream_auth
from gpuchat.engines.profiles import AutoBenchmark
from gpuchat.loadtest.stream import Sample, stream_chat
from gpuchat.schemas.benchmarks import BenchmarkPublic

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
        started = time.perf_counter()

        async def one() -> Sample:
            async with gate:
                upstream = await self._engines.acquire(name)
                try:
                    return await stream_chat(
                        self._http,
                        f"{upstream.base_url}/chat/completions",
                        _body(upstream.model, settings.max_tokens),
                        headers={
                            "Content-Type": "application/json",
                            **upstream_auth(upstream.profile),
                        },
                        timeout_s=settings.timeout,
                        step_t0=started,
                    )
                finally:
                    upstream.release()

        runs = await asyncio.gather(*(one() for _ in range(settings.requests)))
        elapsed = time.perf_counter() - started
        ok = [run for run in runs if run.ok and run.ttft_s is not None]
        ttft = [run.ttft_s for run in ok if run.ttft_s is not None]
        tpot = [run.tpot_s for run in ok if run.tpot_s is not None]
        return {
            "requests": len(runs),
            "errors": len(runs) - len(ok),
            "ttft_ms_p50": _ms(statistics.median(ttft)) if ttft else None,
            "tpot_ms": _ms(statistics.mean(tpot)) if tpot else None,
            "requests_per_min": round(len(ok) * 60 / elapsed, 1) if elapsed > 0 else None,
            "output_tokens": sum(run.output_tokens for run in ok),
        }


def _body(model: str, max_tokens: int) -> bytes:
    return orjson.dumps(
        {
            "model": model,
            "messages": [{"role": "user", "content": PROMPT}],
            "max_tokens": max_tokens,
            "temperature": 0,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
    )


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


async def list_benchmarks(
    session: AsyncSession, *, profile: str | None, limit: int
) -> list[BenchmarkPublic]:
    query = select(Benchmark).order_by(Benchmark.created.desc(), Benchmark.id.desc())
    if profile is not None:
        query = query.where(Benchmark.profile == profile)
    rows = (await session.scalars(query.limit(limit))).all()
    return [
        BenchmarkPublic(
            id=row.id,
            profile=row.profile,
            parameters=row.parameters,
            results=row.results,
            created=row.created.isoformat(),
        )
        for row in rows
    ]
