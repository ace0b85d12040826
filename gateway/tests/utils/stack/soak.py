"""The soak: the stack under steady streams for a long time, some clients leaving at random
moments, and what it holds afterwards against what it held before (QUALITY.md, "Load":
memory, file descriptors and pool connections back to baseline, every row accounted for,
no engine slot left taken).

Baseline and after are both measured quiet (no request in flight, 10 s after the last
one), so they compare. In between, a sample every `sample_every_s` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import asyncpg

from tests.utils.stack import report
from tests.utils.stack.accounting import account, stored_answers, usage_rows
from tests.utils.stack.load import Load
from tests.utils.stack.stack import Stack, StackConfig

QUIET_S = 10.0


@dataclass(frozen=True)
class SoakPlan:
    minutes: float = 30.0
    streams: int = 10
    abandon_share: float = 0.2
    sample_every_s: float = 30.0


async def db_connections(dsn: str) -> dict[str, int]:
    """Connections to the gpuchat database by state (ours excluded)."""
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        rows = await conn.fetch(
            "SELECT coalesce(state, 'none') AS state, count(*) AS n FROM pg_stat_activity "
            "WHERE datname = 'gpuchat' AND pid <> pg_backend_pid() GROUP BY 1"
        )
    finally:
        await conn.close()
    return {r["state"]: int(r["n"]) for r in rows}


async def slots_taken(url: str) -> int:
    """Members of every `gpuchat:slots:*` set: engine slots some request holds."""
    from redis.asyncio import Redis

    redis = Redis.from_url(url, socket_timeout=5)
    try:
        total = 0
        async for key in redis.scan_iter(match="gpuchat:slots:*"):
            total += int(await redis.zcard(key))
        return total
    finally:
        await redis.aclose()


async def snapshot(stack: Stack) -> dict[str, Any]:
    statuses = await asyncio.to_thread(stack.engine_status)
    connections = await db_connections(stack.postgres.dsn)
    return {
        "at": round(time.time(), 1),
        "processes": await asyncio.to_thread(stack.usage),
        "db_connections": sum(connections.values()),
        "db_connections_by_state": connections,
        "slots_taken": await slots_taken(stack.redis.url),
        "engine_inflight": statuses.get("inflight", 0),
    }


def _compact(snap: dict[str, Any], t0: float) -> dict[str, Any]:
    procs = snap["processes"]
    return {
        "t_s": round(snap["at"] - t0),
        "rss_mib": round(sum(p["rss_kib"] for p in procs.values()) / 1024),
        "open_files": sum(p["open_files"] for p in procs.values()),
        "db_connections": snap["db_connections"],
        "slots_taken": snap["slots_taken"],
        "engine_inflight": snap["engine_inflight"],
    }


async def run_soak(stack: Stack, plan: SoakPlan) -> dict[str, Any]:
    key_id, key = await asyncio.to_thread(stack.new_key, "soak")
    context = stack.nginx.ssl_context()
    # Warm every process (both replicas, both workers, the pools) before the baseline.
    async with Load(stack.url, key, plan.streams, context) as warm:
        await asyncio.sleep(10)
    await asyncio.sleep(QUIET_S)
    baseline = await snapshot(stack)
    samples = [_compact(baseline, baseline["at"])]
    load = Load(stack.url, key, plan.streams, context, abandon_share=plan.abandon_share, seed=7)
    async with load:
        end = time.monotonic() + plan.minutes * 60
        while time.monotonic() < end:
            await asyncio.sleep(min(plan.sample_every_s, max(end - time.monotonic(), 0)))
            samples.append(_compact(await snapshot(stack), baseline["at"]))
            done = sum(1 for o in load.outcomes if o.t_end)
            print(f"soak: {samples[-1]} requests ended {done}", flush=True)
    await asyncio.sleep(QUIET_S)
    after = await snapshot(stack)
    samples.append(_compact(after, baseline["at"]))
    rows = await usage_rows(stack.postgres.dsn, key_id)
    outcomes = warm.outcomes + load.outcomes
    acc = account(outcomes, rows, answers=await stored_answers(stack.postgres.dsn, outcomes))
    return {
        "kind": "soak",
        "plan": asdict(plan),
        "baseline": baseline,
        "after": after,
        "samples": samples,
        "account": acc,
        "failures": [o.record(o.t_start) for o in outcomes if o.kind not in ("ok", "abandoned")][
            :50
        ],
    }


def main(root: Path, argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.utils.stack soak")
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", 30)))
    parser.add_argument("--streams", type=int, default=10)
    parser.add_argument("--no-publish", action="store_true", help="leave docs/ alone")
    args = parser.parse_args(argv)
    plan = SoakPlan(minutes=args.minutes, streams=args.streams)
    started, code = report.now(), report.commit()  # the code the stack runs: as it starts
    with Stack(StackConfig.from_env(root)) as stack:
        result = asyncio.run(run_soak(stack, plan))
    result |= report.header(started, code)
    path = report.save(result, "soak")
    table = report.soak_markdown(result)
    print(f"\n{table}\nwritten to {path}")
    if not args.no_publish:
        report.publish("soak", table)
