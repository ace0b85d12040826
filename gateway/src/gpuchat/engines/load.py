"""What an engine says of its own load, scraped from its Prometheus `/metrics` (vLLM).

The gateway counts its own requests in flight; the engine knows more: how many of them it
is running and how many wait inside it for a batch slot, and how full its KV cache is. The
admin's live view and the gateway's `/metrics` show these per engine. `EngineLoads` polls
every ready engine that serves them, once a second, and keeps the last answer; an engine
whose `/metrics` is missing or not vLLM's is asked again only after a minute. A scrape that
fails on the way (a busy engine answering late, a reset) is tried again the next second;
the last answer stands until it is `STALE_S` old.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from typing import Final

import aiohttp
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel, ConfigDict

POLL_S: Final = 1.0
RETRY_UNSUPPORTED_S: Final = 60.0
STALE_S: Final = 5.0  # an answer older than this is not shown
_RUNNING: Final = "vllm:num_requests_running"
_WAITING: Final = "vllm:num_requests_waiting"
# vLLM renamed the KV cache gauge when the V1 engine arrived; both are read.
_KV_CACHE: Final = ("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc")


class EngineLoad(BaseModel):
    model_config = ConfigDict(frozen=True)

    running: int  # requests the engine is generating for
    waiting: int  # requests queued inside the engine, not started
    kv_cache_usage: float | None  # 0-1
    at: float  # wall clock of the scrape


def parse_vllm_metrics(text: str, *, at: float) -> EngineLoad | None:
    """vLLM's exposition text -> its load (summed over its data-parallel engines); None
    when the text has no vLLM request gauges."""
    values: dict[str, float] = {}
    kv: list[float] = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in (_RUNNING, _WAITING):
                values[sample.name] = values.get(sample.name, 0.0) + sample.value
            elif sample.name in _KV_CACHE:
                kv.append(sample.value)
    if _RUNNING not in values or _WAITING not in values:
        return None
    return EngineLoad(
        running=round(values[_RUNNING]),
        waiting=round(values[_WAITING]),
        kv_cache_usage=max(kv) if kv else None,
        at=at,
    )


class EngineLoads:
    """The last load of each engine (by profile name), polled in the background."""

    def __init__(
        self,
        targets: Callable[[], Iterable[tuple[str, str]]],
        client: Callable[[], aiohttp.ClientSession],
    ) -> None:
        self._targets = targets  # (profile name, metrics URL) of the engines to poll now
        self._client = client
        self._loads: dict[str, EngineLoad] = {}
        self._skip_until: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self.changed = asyncio.Event()  # set after each round of scrapes

    def get(self, name: str) -> EngineLoad | None:
        load = self._loads.get(name)
        return load if load is not None and time.time() - load.at <= STALE_S else None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._poll())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _poll(self) -> None:
        while True:
            now = time.monotonic()
            targets = [t for t in self._targets() if self._skip_until.get(t[0], 0.0) <= now]
            loads = await asyncio.gather(*(self._scrape(url) for _, url in targets))
            for (name, _), load in zip(targets, loads, strict=True):
                if load is _UNSUPPORTED:
                    self._loads.pop(name, None)
                    self._skip_until[name] = now + RETRY_UNSUPPORTED_S
                elif isinstance(load, EngineLoad):
                    self._loads[name] = load
            self.changed.set()
            self.changed.clear()
            await asyncio.sleep(POLL_S)

    async def _scrape(self, url: str) -> EngineLoad | object | None:
        """The engine's load; `_UNSUPPORTED` when it serves no vLLM metrics; None when this
        scrape failed on the way (late, refused, reset): tried again next round."""
        try:
            async with self._client().get(url, allow_redirects=False) as response:
                if response.status != 200:
                    return _UNSUPPORTED
                text = await response.text()
        except UnicodeDecodeError:
            return _UNSUPPORTED
        except (aiohttp.ClientError, TimeoutError, OSError):
            return None
        try:
            load = parse_vllm_metrics(text, at=time.time())
        except ValueError:
            return _UNSUPPORTED
        return _UNSUPPORTED if load is None else load


_UNSUPPORTED: Final = object()
