"""Drive the steps of a load test against an OpenAI-compatible base URL.

A step is either N concurrent sessions (closed loop: each sends its next request when the
last one ends) or R requests per second (open loop: requests start on schedule whatever
the server's pace). A step ends after `requests` requests or when `duration_s` is up,
whichever comes first; requests in flight then finish (or time out), so a step always
ends. Every request gets its own prompt, so prefix caches do not flatter the numbers.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict, dataclass, field
from typing import Any, Final

import aiohttp
import orjson

from gpuchat.loadtest.stats import summarize
from gpuchat.loadtest.stream import Sample, stream_chat

DEFAULT_STEPS: Final = (1, 5, 10)  # the seed's load plan: 1 → 5 → 10 sessions
REQUESTS_PER_SESSION: Final = 10  # a step's size when neither requests nor duration is set
RATE_STEP_S: Final = 30.0  # an open-loop step's length when neither is set
FILLER_TEXT: Final = (
    "the river runs past a quiet town where people walk to work and talk about the weather "
    "while birds sing in old trees near the bridge and children play by the water"
)
FILLER: Final = tuple(FILLER_TEXT.split())
INSTRUCTION: Final = "Write a long, detailed story about a lighthouse keeper. Notes:"


class ServerProblem(Exception):
    """The server cannot be benchmarked at all (unreachable, key refused, no model)."""

    def __init__(self, message: str, *, bad_argument: bool = False) -> None:
        super().__init__(message)
        self.bad_argument = bad_argument


@dataclass(frozen=True)
class Step:
    concurrency: int | None = None
    rate: float | None = None

    def describe(self) -> dict[str, Any]:
        if self.rate is not None:
            return {"mode": "rate", "rate": self.rate}
        return {"mode": "concurrency", "concurrency": self.concurrency}

    @property
    def label(self) -> str:
        return f"{self.rate:g} req/s" if self.rate is not None else f"{self.concurrency} sessions"


@dataclass(frozen=True)
class BenchPlan:
    base_url: str  # ".../v1"
    model: str
    steps: tuple[Step, ...] = tuple(Step(concurrency=c) for c in DEFAULT_STEPS)
    api_key: str | None = field(default=None, repr=False)
    requests: int | None = None  # per step
    requests_per_session: int | None = None  # per concurrency step, if `requests` is not set
    duration_s: float | None = None  # per step
    max_tokens: int = 128
    prompt_tokens: int = 64
    prompts: tuple[str, ...] = ()  # used in turn instead of the generated prompt
    timeout_s: float = 120.0
    warmup: int = 0  # requests sent once before the first step, not recorded
    # In every generated prompt: two runs against one engine (direct, then through a
    # gateway) would otherwise send the same prompts, and the second would be served from
    # the engine's prefix cache.
    run_tag: str = field(default_factory=lambda: secrets.token_hex(4))

    def bounds(self, step: Step) -> tuple[int | None, float | None]:
        """(requests, seconds) of a step: it ends at whichever comes first."""
        requests, duration_s = self.requests, self.duration_s
        if requests is None and step.concurrency and self.requests_per_session:
            requests = self.requests_per_session * step.concurrency
        if requests is None and duration_s is None:
            if step.rate is not None:
                return None, RATE_STEP_S
            return REQUESTS_PER_SESSION * (step.concurrency or 1), None
        return requests, duration_s

    def prompt(self, index: int) -> str:
        if self.prompts:
            return self.prompts[index % len(self.prompts)]
        # About one token per filler word; the index first makes every prompt distinct.
        words = max(self.prompt_tokens - 16, 1)
        filler = " ".join(FILLER[(index + n) % len(FILLER)] for n in range(words))
        return f"Request {self.run_tag}-{index}. {INSTRUCTION} {filler}"

    def body(self, index: int) -> bytes:
        return orjson.dumps(
            {
                "model": self.model,
                "messages": [{"role": "user", "content": self.prompt(index)}],
                "max_tokens": self.max_tokens,
                "stream": True,
                "stream_options": {"include_usage": True},
            }
        )

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def settings(self) -> dict[str, Any]:
        """The plan as recorded in the result: everything but the key."""
        out = asdict(self)
        out.pop("api_key")
        out["steps"] = [s.describe() for s in self.steps]
        out["prompts"] = len(self.prompts)
        return out


Observer = Callable[[int, Sample], None]  # (step number, sample)


async def list_models(base_url: str, api_key: str | None, timeout_s: float = 10) -> list[str]:
    """The ids `GET {base_url}/models` lists; ServerProblem when it cannot be asked."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as http,
            http.get(f"{base_url.rstrip('/')}/models", headers=headers) as response,
        ):
            if response.status in (401, 403):
                raise ServerProblem(
                    f"{base_url} refused the API key (HTTP {response.status})", bad_argument=True
                )
            if response.status != 200:
                return []
            body = await response.json(content_type=None)
    except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
        raise ServerProblem(f"cannot reach {base_url}: {type(exc).__name__}: {exc}") from exc
    data = body.get("data") if isinstance(body, dict) else None
    return [str(m["id"]) for m in data or () if isinstance(m, dict) and "id" in m]


async def run_bench(plan: BenchPlan, observer: Observer | None = None) -> dict[str, Any]:
    """Run every step of `plan` in order; the JSON-ready result (see `stats.summarize`)."""
    started = dt.datetime.now(dt.UTC)
    url = f"{plan.base_url.rstrip('/')}/chat/completions"
    connector = aiohttp.TCPConnector(limit=0)  # the step, not the pool, bounds concurrency
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
    steps: list[dict[str, Any]] = []
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        counter = _Counter()

        def send(step_t0: float) -> Awaitable[Sample]:
            return stream_chat(
                http,
                url,
                plan.body(counter.take()),
                headers=plan.headers(),
                timeout_s=plan.timeout_s,
                step_t0=step_t0,
            )

        if plan.warmup:
            await asyncio.gather(*(send(time.perf_counter()) for _ in range(plan.warmup)))
        for number in range(len(plan.steps)):
            steps.append(await _run_step(plan, number, send, observer))
    return {
        "tool": "gpuchat bench",
        "format": 1,
        "started_at": started.isoformat(timespec="seconds"),
        "url": plan.base_url,
        "model": plan.model,
        "settings": plan.settings(),
        "steps": steps,
    }


@dataclass
class _Counter:
    """Request numbers across the whole run (each request's prompt differs)."""

    next: int = 0

    def take(self) -> int:
        self.next += 1
        return self.next - 1


async def _run_step(
    plan: BenchPlan,
    number: int,
    send: Callable[[float], Awaitable[Sample]],
    observer: Observer | None,
) -> dict[str, Any]:
    step = plan.steps[number]
    requests, duration_s = plan.bounds(step)
    samples: list[Sample] = []
    t0 = time.perf_counter()
    deadline = None if duration_s is None else t0 + duration_s

    async def one() -> None:
        sample = await send(t0)
        samples.append(sample)
        if observer is not None:
            observer(number, sample)

    if step.rate is not None:
        await _open_loop(step.rate, one, requests, deadline)
    else:
        await _closed_loop(step.concurrency or 1, one, requests, deadline)
    elapsed = time.perf_counter() - t0
    return summarize(step.describe(), samples, elapsed)


async def _closed_loop(
    sessions: int, one: Callable[[], Awaitable[None]], requests: int | None, deadline: float | None
) -> None:
    issued = 0

    async def session() -> None:
        nonlocal issued
        while (requests is None or issued < requests) and (
            deadline is None or time.perf_counter() < deadline
        ):
            issued += 1
            await one()

    await asyncio.gather(*(session() for _ in range(sessions)))


async def _open_loop(
    rate: float,
    one: Callable[[], Coroutine[Any, Any, None]],
    requests: int | None,
    deadline: float | None,
) -> None:
    start = time.perf_counter()
    tasks: list[asyncio.Task[None]] = []
    while requests is None or len(tasks) < requests:
        due = start + len(tasks) / rate
        if deadline is not None and due >= deadline:
            break
        await asyncio.sleep(max(due - time.perf_counter(), 0))
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
