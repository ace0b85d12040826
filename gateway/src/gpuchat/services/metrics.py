"""Prometheus metrics (`/metrics`), one registry per app (tests run several apps at once).

Request metrics are observed once per upstream request, from the usage record that
`UpstreamRequest.finish()` hands to the usage recorder: nothing runs per chunk. Gauges that describe
the present (engine states, queues, streams in flight, GPUs) are sampled at scrape time.
Labels carry model and profile names and user ids, never emails, keys or URLs.

Several worker processes (`GPUCHAT_WORKERS`) answer one port, so a scrape reaches one of
them at random. `gpuchat serve` then sets `PROMETHEUS_MULTIPROC_DIR` for its workers
(prometheus-client's multiprocess mode): each writes its values to files there and
`/metrics` adds up every process's, whichever answers. A process's own present (its
streams, its queues) is written once a second (`sample_forever`); gauges every process
sees the same (engines, GPUs) show the most recent value written. A replica on another
host is its own scrape target (deploy/prometheus).
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from gpuchat.engines.control import EngineState
from gpuchat.services.usage.recorder import UsageRecord

if TYPE_CHECKING:
    from gpuchat.services.relay.request import Upstreams

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 900)
TTFT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 120)
TPOT_BUCKETS = (0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.25, 0.5, 1)
QUEUE_BUCKETS = (0.01, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)
MULTIPROCESS_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
SAMPLE_S: Final = 1.0
# Gauges: a process's own count adds up over the live processes; what every process sees
# alike (an engine's state) is the latest written.
OWN: Final = "livesum"
SHARED: Final = "livemostrecent"
_GAUGE_FILE = re.compile(r"gauge_live\w+_(\d+)\.db")


def multiprocess_dir() -> Path | None:
    value = os.environ.get(MULTIPROCESS_ENV)
    return Path(value) if value else None


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.requests = Counter(
            "gpuchat_requests",
            "Upstream requests by model and status",
            ["model", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "gpuchat_request_latency_seconds",
            "Request latency",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "gpuchat_time_to_first_token_seconds",
            "Time to first token",
            ["model"],
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self.tpot = Histogram(
            "gpuchat_time_per_output_token_seconds",
            "Time per output token after the first",
            ["model"],
            buckets=TPOT_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "gpuchat_tokens",
            "Tokens by model, user id and direction",
            ["model", "user", "direction"],
            registry=r,
        )
        self.queue_wait = Histogram(
            "gpuchat_queue_wait_seconds",
            "Time waited in the admission queue",
            ["engine"],
            buckets=QUEUE_BUCKETS,
            registry=r,
        )
        self._admission_metrics(r)
        self._present_gauges(r)

    def _admission_metrics(self, r: CollectorRegistry) -> None:
        self.rate_limited = Counter(
            "gpuchat_rate_limited",
            "Requests refused by a rate limit or quota",
            ["limit"],
            registry=r,
        )
        self.queue_rejected = Counter(
            "gpuchat_queue_rejected",
            "Requests refused by a full queue or a wait too long",
            ["engine", "reason"],
            registry=r,
        )
        self.content_filtered = Counter(
            "gpuchat_content_filtered", "Requests refused by the forbidden-word filter", registry=r
        )
        self.usage_rows_dropped = Counter(
            "gpuchat_usage_rows_dropped",
            "Usage rows dropped because the database was away past the writer's bound",
            registry=r,
        )
        self.redis_fallback = Gauge(
            "gpuchat_redis_fallback",
            "1 while limits use in-process counters because Redis is down",
            registry=r,
            multiprocess_mode="livemax",
        )

    def _present_gauges(self, r: CollectorRegistry) -> None:
        """Sampled at scrape time by `render()`."""
        self.active_streams = Gauge(
            "gpuchat_active_streams",
            "Upstream requests in flight",
            registry=r,
            multiprocess_mode=OWN,
        )
        self.usage_rows_pending = Gauge(
            "gpuchat_usage_rows_pending",
            "Usage rows waiting to be written",
            registry=r,
            multiprocess_mode=OWN,
        )
        self.queue_length = Gauge(
            "gpuchat_queue_length",
            "Requests waiting for an engine slot",
            ["engine"],
            registry=r,
            multiprocess_mode=OWN,
        )
        self.engine_state = Gauge(
            "gpuchat_engine_state",
            "1 for each engine's current state",
            ["engine", "state"],
            registry=r,
            multiprocess_mode=SHARED,
        )
        # The engine's own view, from its /metrics (vLLM): what runs inside it, what waits
        # inside it, how full its KV cache is.
        self.engine_running = Gauge(
            "gpuchat_engine_requests_running",
            "Requests the engine reports running",
            ["engine"],
            registry=r,
            multiprocess_mode=SHARED,
        )
        self.engine_waiting = Gauge(
            "gpuchat_engine_requests_waiting",
            "Requests the engine reports waiting inside it",
            ["engine"],
            registry=r,
            multiprocess_mode=SHARED,
        )
        self.engine_kv_cache = Gauge(
            "gpuchat_engine_kv_cache_usage_ratio",
            "KV cache in use, as the engine reports it (0-1)",
            ["engine"],
            registry=r,
            multiprocess_mode=SHARED,
        )
        self.gpu_memory_used = Gauge(
            "gpuchat_gpu_memory_used_bytes",
            "GPU memory in use",
            ["gpu"],
            registry=r,
            multiprocess_mode=SHARED,
        )
        self.gpu_memory_total = Gauge(
            "gpuchat_gpu_memory_total_bytes",
            "GPU memory",
            ["gpu"],
            registry=r,
            multiprocess_mode=SHARED,
        )
        self.gpu_utilization = Gauge(
            "gpuchat_gpu_utilization_ratio",
            "GPU utilisation (0-1)",
            ["gpu"],
            registry=r,
            multiprocess_mode=SHARED,
        )

    def observe(self, row: UsageRecord) -> None:
        """One finished upstream request (called synchronously by the usage recorder)."""
        model = row.profile or row.model_alias
        self.requests.labels(model, str(row.status_code)).inc()
        if row.latency_ms is not None:
            self.latency.labels(model).observe(row.latency_ms / 1000)
        if row.ttft_ms is not None:
            self.ttft.labels(model).observe(row.ttft_ms / 1000)
            out = row.output_tokens or 0
            if row.latency_ms is not None and out > 1:
                self.tpot.labels(model).observe((row.latency_ms - row.ttft_ms) / 1000 / (out - 1))
        if row.queue_ms is not None:
            self.queue_wait.labels(row.profile or model).observe(row.queue_ms / 1000)
        user = str(row.user_id) if row.user_id is not None else ""
        if row.input_tokens:
            self.tokens.labels(model, user, "input").inc(row.input_tokens)
        if row.output_tokens:
            self.tokens.labels(model, user, "output").inc(row.output_tokens)

    def sample_own(self, upstreams: Upstreams) -> None:
        """This process's present: its streams, its queues, its unwritten rows."""
        self.active_streams.set(len(upstreams.live))
        self.usage_rows_pending.set(upstreams.usage.pending)
        for name, waiting in upstreams.admission.lengths().items():
            self.queue_length.labels(name).set(waiting)

    async def sample_forever(self, upstreams: Upstreams) -> None:
        """With several workers: keep this process's present written for the others'
        scrapes."""
        while True:
            self.sample_own(upstreams)
            await asyncio.sleep(SAMPLE_S)

    async def render(self, upstreams: Upstreams) -> bytes:
        """Sample the present, then the exposition text (every worker's, added up)."""
        self.sample_own(upstreams)
        for gauge in (self.engine_running, self.engine_waiting, self.engine_kv_cache):
            gauge.clear()  # an engine that stopped reporting is not shown with old numbers
        for status in upstreams.engines.statuses():
            for engine_state in EngineState:
                self.engine_state.labels(status.name, engine_state.value).set(
                    1 if status.state is engine_state else 0
                )
            if status.load is not None:
                self.engine_running.labels(status.name).set(status.load.running)
                self.engine_waiting.labels(status.name).set(status.load.waiting)
                if status.load.kv_cache_usage is not None:
                    self.engine_kv_cache.labels(status.name).set(status.load.kv_cache_usage)
        report = await upstreams.engines.gpus()
        for gpu in report.gpus:
            index = str(gpu.index)
            self.gpu_memory_used.labels(index).set(gpu.memory_used_mib * 1024 * 1024)
            self.gpu_memory_total.labels(index).set(gpu.memory_total_mib * 1024 * 1024)
            if gpu.utilization_pct is not None:
                self.gpu_utilization.labels(index).set(gpu.utilization_pct / 100)
        directory = multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry)
        _forget_dead_processes(directory)
        every_process = CollectorRegistry()
        MultiProcessCollector(every_process, str(directory))  # type: ignore[no-untyped-call]
        return generate_latest(every_process)


def prepare_multiprocess(directory: Path) -> None:
    """Before the workers start: their metrics go to `directory`, emptied of a previous
    run's (`gpuchat serve` with several workers)."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.db"):
        old.unlink()
    os.environ[MULTIPROCESS_ENV] = str(directory)


def forget_process(pid: int) -> None:
    """A worker that ends: its gauges no longer count."""
    directory = multiprocess_dir()
    if directory is not None:
        mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]


def _forget_dead_processes(directory: Path) -> None:
    """A worker that died without saying so (killed, crashed) leaves its gauges behind:
    its streams would be counted for ever. Counters stay (what it served, it served)."""
    for file in directory.glob("gauge_live*.db"):
        match = _GAUGE_FILE.fullmatch(file.name)
        if match is None:
            continue
        pid = int(match.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]
        except PermissionError:
            pass  # alive, another user's
