"""Closed-loop streaming load generator: N workers, each one stream after another.

Kept cheap on purpose so that one process drives 50+ streams on a small machine: no JSON
parsing of chunks, only a regex until the first non-empty `content` is seen (TTFT), a
byte count of the token marker (to prove every token arrived) and a check for `[DONE]`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import resource
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
from stack import CLK_TCK, ProcTree

# First frame whose delta carries non-empty content; tolerant of re-serialised spacing.
FIRST_CONTENT = re.compile(rb'"content":\s*"[^"]')
TOKEN_MARK = b' tk"'  # upstream.TOKEN_TEXT as it appears at the end of a JSON string
DONE = b"[DONE]"
RSS_SAMPLE_S = 0.05


@dataclass
class Target:
    key: str  # "direct" | "gateway" | "nginx"
    label: str
    url: str
    session: aiohttp.ClientSession
    tree: ProcTree | None  # the proxy's processes (None for direct)


@dataclass
class StreamResult:
    ok: bool
    ttft_s: float | None = None
    error: str | None = None


@dataclass
class CellResult:
    target: str
    streams: int
    round: int
    elapsed_s: float = 0.0
    completed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    ttft_s: list[float] = field(default_factory=list)
    proxy_cpu_s: float | None = None
    proxy_peak_rss_kib: int | None = None
    upstream_cpu_s: float = 0.0
    client_cpu_s: float = 0.0
    machine_cpu_s: float = 0.0  # every core, every process: the rest is someone else's load


async def one_stream(
    t: Target, body: bytes, headers: dict[str, str], expect_tokens: int
) -> StreamResult:
    start = time.perf_counter()
    ttft = None
    tokens = 0
    done = False
    prev = b""
    try:
        async with t.session.post(t.url, data=body, headers=headers) as resp:
            if resp.status != 200:
                await resp.read()
                return StreamResult(False, error=f"http {resp.status}")
            async for data in resp.content.iter_any():
                buf = prev + data
                if ttft is None and FIRST_CONTENT.search(buf):
                    ttft = time.perf_counter() - start
                tokens += buf.count(TOKEN_MARK)
                if not done and DONE in buf:
                    done = True
                prev = buf[-(len(TOKEN_MARK) - 1) :]
    except (aiohttp.ClientError, TimeoutError) as exc:
        return StreamResult(False, error=type(exc).__name__)
    if ttft is None:
        return StreamResult(False, error="no content")
    if tokens != expect_tokens:
        return StreamResult(False, ttft, error=f"tokens {tokens}!={expect_tokens}")
    if not done:
        return StreamResult(False, ttft, error="no [DONE]")
    return StreamResult(True, ttft)


def _machine_cpu_s() -> float:
    """Busy CPU seconds of the whole machine (all cores) since boot, from /proc/stat."""
    with open("/proc/stat", "rb") as f:
        fields = [int(x) for x in f.readline().split()[1:8]]
    return (sum(fields) - fields[3] - fields[4]) / CLK_TCK  # minus idle and iowait


def _client_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


async def _sample_rss(
    tree: ProcTree, pids: list[int], peak: list[int], stop: asyncio.Event
) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], tree.rss_kib(pids))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), RSS_SAMPLE_S)


async def run_cell(
    t: Target,
    streams: int,
    duration_s: float,
    body: bytes,
    headers: dict[str, str],
    expect_tokens: int,
    upstream: ProcTree,
    rnd: int,
) -> CellResult:
    """One cell: warm every connection, then `streams` workers loop for `duration_s`."""
    cell = CellResult(t.key, streams, rnd)
    # One unrecorded stream per worker first, so every worker holds a warm connection
    # (servers differ in how long they keep an idle one, e.g. uvicorn's 5 s).
    await asyncio.gather(*(one_stream(t, body, headers, expect_tokens) for _ in range(streams)))
    up_pids = upstream.pids()
    proxy_pids = t.tree.pids() if t.tree else []
    up0, cl0, m0 = upstream.cpu_snapshot(up_pids), _client_cpu_s(), _machine_cpu_s()
    px0 = t.tree.cpu_snapshot(proxy_pids) if t.tree else None
    stop, peak = asyncio.Event(), [0]
    sampler = asyncio.ensure_future(_sample_rss(t.tree, proxy_pids, peak, stop)) if t.tree else None
    start = time.perf_counter()
    deadline = start + duration_s

    async def worker() -> None:
        while time.perf_counter() < deadline:
            res = await one_stream(t, body, headers, expect_tokens)
            if res.ok:
                cell.completed += 1
                assert res.ttft_s is not None
                cell.ttft_s.append(res.ttft_s)
            else:
                cell.errors[res.error or "?"] += 1
                await asyncio.sleep(0.01)  # an error loop must not spin

    await asyncio.gather(*(worker() for _ in range(streams)))
    cell.elapsed_s = time.perf_counter() - start
    stop.set()
    if sampler is not None:
        await sampler
    cell.upstream_cpu_s = ProcTree.cpu_delta_s(up0, upstream.cpu_snapshot(up_pids))
    cell.client_cpu_s = _client_cpu_s() - cl0
    cell.machine_cpu_s = _machine_cpu_s() - m0
    if t.tree and px0 is not None:
        cell.proxy_cpu_s = ProcTree.cpu_delta_s(px0, t.tree.cpu_snapshot(proxy_pids))
        cell.proxy_peak_rss_kib = peak[0]
    return cell
