"""The chaos run: streams through nginx over TLS while one fault at a time hits the stack.

Each phase gets its own API key (so its usage rows are the key's rows), waits until the
stack is healthy, runs the load for `pre_s`, injects the fault, clears it, keeps the load on
for `post_s`, stops it (requests in flight end), then accounts for every request
(accounting.py). `make chaos` runs the long form and writes bench/results/chaos-*.json and
the table in docs/reliability.md; tests/reliability/test_chaos.py runs the short form.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tests.utils.stack import report
from tests.utils.stack.accounting import (
    account,
    recovery_s,
    stored_answers,
    timeline,
    usage_rows,
)
from tests.utils.stack.load import Load
from tests.utils.stack.stack import Stack, StackConfig

FAULTS = (
    "kill_gateway",
    "kill_engine",
    "restart_redis",
    "restart_postgres",
    "freeze_redis",
    "slow_engine",
)


@dataclass(frozen=True)
class ChaosPlan:
    streams: int = 20
    pre_s: float = 10.0  # load before the fault
    post_s: float = 20.0  # load after the fault cleared
    freeze_s: float = 20.0  # Redis SIGSTOPped
    down_s: float = 3.0  # Redis / PostgreSQL down during a restart
    slow_s: float = 20.0  # the engine at `slow_token_s` per token
    slow_token_s: float = 10.0
    gateway_back_s: float = 5.0  # the killed replica is started again after this long
    timeout_s: float = 90.0  # a request not ended by then is a hang


SHORT = ChaosPlan(streams=6, pre_s=4, post_s=8, freeze_s=20, slow_s=12, gateway_back_s=3)


@dataclass
class FaultTimes:
    t_fault: float = 0.0
    t_clear: float = 0.0
    note: str = ""


Inject = Callable[[Stack, ChaosPlan, FaultTimes], Awaitable[None]]


def _thread(fn: Callable[..., Any], *args: Any) -> Awaitable[Any]:
    return asyncio.to_thread(fn, *args)


async def kill_gateway(stack: Stack, plan: ChaosPlan, times: FaultTimes) -> None:
    times.t_fault = time.monotonic()
    await _thread(stack.kill_gateway, 0)
    times.t_clear = times.t_fault  # the other replica serves at once; nothing to wait for
    await asyncio.sleep(plan.gateway_back_s)
    t0 = time.monotonic()
    await _thread(stack.start_gateway, 0)  # as `restart: unless-stopped` would
    times.note = f"replica 0 ready again {time.monotonic() - t0:.1f} s after its restart"


async def kill_engine(stack: Stack, plan: ChaosPlan, times: FaultTimes) -> None:
    times.t_fault = time.monotonic()
    killed = await _thread(stack.kill_engine)
    times.t_clear = times.t_fault  # the supervisor restarts it on its own
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = await _thread(stack.engine_status)
        if status["state"] == "ready" and status["pid"] not in (None, killed):
            break
        await asyncio.sleep(0.2)
    times.note = f"engine ready again {time.monotonic() - times.t_fault:.1f} s after the kill"


async def restart_redis(stack: Stack, plan: ChaosPlan, times: FaultTimes) -> None:
    times.t_fault = time.monotonic()
    await _thread(stack.redis.restart, plan.down_s)
    times.t_clear = time.monotonic()
    times.note = f"Redis down {times.t_clear - times.t_fault:.1f} s (data not persisted)"


async def restart_postgres(stack: Stack, plan: ChaosPlan, times: FaultTimes) -> None:
    times.t_fault = time.monotonic()
    await _thread(stack.postgres.restart, plan.down_s)
    times.t_clear = time.monotonic()
    times.note = f"PostgreSQL down {times.t_clear - times.t_fault:.1f} s (fast shutdown)"


async def freeze_redis(stack: Stack, plan: ChaosPlan, times: FaultTimes) -> None:
    times.t_fault = time.monotonic()
    stack.redis.freeze()
    await asyncio.sleep(plan.freeze_s)
    stack.redis.thaw()
    times.t_clear = time.monotonic()
    times.note = f"Redis SIGSTOPped for {plan.freeze_s:g} s"


async def slow_engine(stack: Stack, plan: ChaosPlan, times: FaultTimes) -> None:
    times.t_fault = time.monotonic()
    await _thread(stack.slow_engine, plan.slow_token_s)
    await asyncio.sleep(plan.slow_s)
    await _thread(stack.slow_engine, None)
    times.t_clear = time.monotonic()
    times.note = f"{plan.slow_token_s:g} s per token for {plan.slow_s:g} s"


INJECT: dict[str, Inject] = {
    "kill_gateway": kill_gateway,
    "kill_engine": kill_engine,
    "restart_redis": restart_redis,
    "restart_postgres": restart_postgres,
    "freeze_redis": freeze_redis,
    "slow_engine": slow_engine,
}


async def run_fault(stack: Stack, fault: str, plan: ChaosPlan) -> dict[str, Any]:
    """One phase: load, the fault, load, then the account of every request."""
    await _thread(stack.wait_healthy, 120)
    key_id, key = await _thread(stack.new_key, f"chaos-{fault}")
    times = FaultTimes()
    load = Load(stack.url, key, plan.streams, stack.nginx.ssl_context(), timeout_s=plan.timeout_s)
    async with load:
        t0 = time.monotonic()
        await asyncio.sleep(plan.pre_s)
        await INJECT[fault](stack, plan, times)
        await asyncio.sleep(plan.post_s)
        t_stop = time.monotonic()
    t_end = time.monotonic()
    outcomes = load.outcomes
    excused: set[int] = set()
    if fault == "kill_gateway":
        # Streams of the killed replica die with it, and so do their usage rows.
        excused = {
            o.n
            for o in outcomes
            if o.kind == "cut" and o.t_start < times.t_fault <= o.t_end <= times.t_fault + 3
        }
    rows = await usage_rows(stack.postgres.dsn, key_id)
    answers = await stored_answers(stack.postgres.dsn, outcomes)
    failed_after_fault = [
        o.record(t0)
        for o in outcomes
        if o.kind != "ok" and o.n not in excused and o.t_end >= times.t_fault
    ]
    return {
        "fault": fault,
        "note": times.note,
        "t_fault": round(times.t_fault - t0, 3),
        "t_clear": round(times.t_clear - t0, 3),
        "t_stop": round(t_stop - t0, 3),
        "drain_s": round(t_end - t_stop, 3),
        "in_flight_at_fault": sum(1 for o in outcomes if o.t_start < times.t_fault <= o.t_end),
        "recovery_s": recovery_s(outcomes, times.t_clear, t_stop),
        "account": account(outcomes, rows, excused=excused, answers=answers, t0=t0),
        "failed_after_fault": failed_after_fault[:40],
        "timeline": timeline(outcomes, times.t_fault),
        "samples": [o.record(t0) for o in outcomes],
    }


async def run_chaos(stack: Stack, plan: ChaosPlan, faults: tuple[str, ...]) -> dict[str, Any]:
    results = []
    for fault in faults:
        print(f"chaos: {fault} ...", flush=True)
        result = await run_fault(stack, fault, plan)
        print(f"chaos: {fault}: {report.one_line(result)}", flush=True)
        results.append(result)
    return {"kind": "chaos", "plan": asdict(plan), "faults": results}


def main(root: Path, argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.utils.stack chaos")
    parser.add_argument("--short", action="store_true", help="the short form (make test's)")
    parser.add_argument("--streams", type=int, default=None)
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--no-publish", action="store_true", help="leave docs/ alone")
    args = parser.parse_args(argv)
    plan = SHORT if args.short else ChaosPlan()
    if args.streams:
        plan = ChaosPlan(**{**asdict(plan), "streams": args.streams})
    faults = tuple(f for f in args.faults.split(",") if f)
    unknown = set(faults) - set(FAULTS)
    if unknown:
        parser.error(f"unknown faults: {', '.join(sorted(unknown))}")
    started, code = report.now(), report.commit()  # the code the stack runs: as it starts
    with Stack(StackConfig.from_env(root)) as stack:
        result = asyncio.run(run_chaos(stack, plan, faults))
    result |= report.header(started, code)
    path = report.save(result, "chaos")
    table = report.chaos_markdown(result)
    print(f"\n{table}\nwritten to {path}")
    if not args.no_publish:
        report.publish("chaos", table)
