"""`gpuchat serve` with its stalls recorded: `run.py --gateway-lag OUT` starts the gateway so.

Two things are recorded from the end of start-up (the lifespan's `gc.freeze()`) until the
gateway stops, and written to OUT as JSON:

- the event loop's lag: a task asks to sleep 1 ms, again and again; how much later than
  that it wakes is how long something else held the loop (p50 … max, and how many times
  over 5, 10 and 20 ms);
- every garbage collection (`gc.callbacks`): its generation, how long it took, and how many
  objects it freed; a collection stops every stream for its duration.

With `GARBAGE=1` in the environment it also keeps, once start-up is over, whatever
only the collector could free (`gc.DEBUG_SAVEALL`), and writes the commonest kinds: the
reference cycles requests leave behind (tests/core/test_request_garbage.py holds them at
zero). The lag task itself costs a wake-up per millisecond: read the run's throughput and
CPU figures from a run without it.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import sys
import time
from collections import Counter
from typing import Any, NoReturn

from gpuchat.commands.app import app

LAG_STEP_S = 0.001
lags: list[float] = []
collections: list[tuple[int, float, int]] = []  # generation, ms, objects freed
_started: list[float] = []
_recording: list[bool] = []  # one True once start-up is over


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if not _recording:
        return
    if phase == "start":
        _started.append(time.perf_counter())
    elif _started:
        ms = (time.perf_counter() - _started.pop()) * 1000
        collections.append((info["generation"], ms, info["collected"]))


async def _watch_lag() -> None:
    # The lifespan freezes start-up's heap when it is done; nothing to wait on but the count.
    while not gc.get_freeze_count():  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    _recording.append(True)
    if os.environ.get("GARBAGE"):
        gc.garbage.clear()
        gc.set_debug(gc.DEBUG_SAVEALL)
    while True:
        before = time.perf_counter()
        await asyncio.sleep(LAG_STEP_S)
        lags.append((time.perf_counter() - before - LAG_STEP_S) * 1000)


def _summary() -> dict[str, Any]:
    ordered = sorted(lags)

    def q(p: float) -> float | None:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 2) if ordered else None

    by_generation: dict[int, list[float]] = {}
    for generation, ms, _freed in collections:
        by_generation.setdefault(generation, []).append(ms)
    out: dict[str, Any] = {
        "lag_ms": {"p50": q(0.5), "p99": q(0.99), "p999": q(0.999), "max": q(1.0)},
        "lag_over_ms": {str(t): sum(x > t for x in lags) for t in (5, 10, 20)},
        "lag_samples": len(lags),
        "gc": {
            str(g): {"count": len(v), "max_ms": round(max(v), 2), "total_ms": round(sum(v), 1)}
            for g, v in sorted(by_generation.items())
        },
        "gc_thresholds": gc.get_threshold(),
    }
    if os.environ.get("GARBAGE"):
        gc.collect()
        kinds = Counter(_kind(o) for o in gc.garbage)
        out["cyclic_garbage"] = {"objects": len(gc.garbage), "kinds": kinds.most_common(30)}
    return out


def _kind(obj: object) -> str:
    code = getattr(obj, "f_code", None) or getattr(obj, "__code__", None)
    code = code or getattr(obj, "cr_code", None)
    if code is not None:
        return f"{type(obj).__name__} {code.co_qualname}"
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _exit(signum: int, _frame: object) -> NoReturn:
    raise SystemExit(128 + signum)


def main() -> None:
    out = sys.argv[1]
    signal.signal(signal.SIGTERM, _exit)
    signal.signal(signal.SIGINT, _exit)
    gc.callbacks.append(_on_gc)
    original_serve = asyncio.Runner.run

    def run_with_watch(self: asyncio.Runner, coro: Any, **kwargs: Any) -> Any:
        async def watched() -> Any:
            watch = asyncio.create_task(_watch_lag())
            try:
                return await coro
            finally:
                watch.cancel()

        return original_serve(self, watched(), **kwargs)

    asyncio.Runner.run = run_with_watch  # type: ignore[method-assign]
    try:
        app(["serve"])
    except SystemExit:
        pass
    finally:
        with open(out, "w") as f:
            json.dump(_summary(), f, indent=1)


if __name__ == "__main__":
    main()
