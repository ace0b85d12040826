"""Gateway overhead benchmark: direct vs gpuchat vs nginx vs gpuchat behind nginx with TLS.

Starts a synthetic OpenAI upstream, then in front of it: an nginx `proxy_pass` (C), a gpuchat
gateway (B, API-key auth and usage rows on: the real path) and the shipped production nginx
config terminating TLS in front of that gateway (D). For each concurrency level it runs
rounds of cells A B C D A B C D ... so that background noise hits all four alike. Writes
bench/results/overhead-<date>-<time>.json and prints a markdown table.

    .venv/bin/python bench/overhead/run.py [--levels 1,10,50] [--rounds 3] [--duration 4]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

import aiohttp
import nginx
import orjson
import report
import stack
from loadgen import CellResult, Target, one_stream, run_cell

REPO = Path(__file__).resolve().parents[2]
CHAT = "/v1/chat/completions"


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--levels",
        default="1,10,50,200",
        help="concurrent streams per cell, comma separated (default 1,10,50,200)",
    )
    ap.add_argument("--rounds", type=int, default=3, help="A B C D rounds per level (default 3)")
    ap.add_argument("--duration", type=float, default=3.0, help="seconds per cell (default 3)")
    ap.add_argument("--tokens", type=int, default=64, help="content chunks per stream")
    ap.add_argument("--gap-ms", type=float, default=5.0, help="upstream pause between tokens")
    ap.add_argument("--first-token-delay-ms", type=float, default=0.0)
    ap.add_argument(
        "--targets",
        default=",".join(report.LABELS),
        help="which of direct,gateway,nginx,gateway-tls,litellm,floor to run (default all six)",
    )
    ap.add_argument(
        "--nginx-workers",
        default="1",
        help="nginx worker_processes (default 1, like the one gateway process)",
    )
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        help="wait up to this many seconds for other work on the machine to calm down "
        "(default 60; 0 to start at once)",
    )
    ap.add_argument(
        "--gateway-url",
        help="bench an already running gateway instead "
        "(e.g. one under a profiler); needs --gateway-key, uses --upstream-port",
    )
    ap.add_argument("--gateway-key", help="API key for --gateway-url")
    ap.add_argument("--gateway-pid", type=int, help="pid of the --gateway-url process (CPU/RSS)")
    ap.add_argument(
        "--gateway-cprofile",
        type=Path,
        help="run the gateway under cProfile and write its stats here (slows it: for hot spots)",
    )
    ap.add_argument(
        "--gateway-lag",
        type=Path,
        help="run the gateway with its event-loop lag and garbage collections recorded, "
        "written here as JSON when it stops (lag_serve.py; for stalls)",
    )
    ap.add_argument(
        "--litellm",
        type=Path,
        default=REPO / ".venv-litellm" / "bin" / "litellm",
        help="the LiteLLM proxy's command (default .venv-litellm/bin/litellm, made by "
        "`make bench-litellm`); path E is skipped when it is missing",
    )
    ap.add_argument(
        "--gateway-workers",
        type=int,
        default=1,
        help="gateway worker processes (default 1; more starts `gpuchat run` with its supervisor)",
    )
    ap.add_argument("--upstream-port", type=int, help="fixed port for the synthetic upstream")
    ap.add_argument(
        "--out", type=Path, help="JSON path (default bench/results/overhead-<date>-<time>.json)"
    )
    args = ap.parse_args()
    args.levels = [int(x) for x in args.levels.split(",") if x.strip()]
    args.targets = [x.strip() for x in args.targets.split(",") if x.strip()]
    if not set(args.targets) <= set(report.LABELS) or "direct" not in args.targets:
        ap.error(f"--targets must include direct and only name {', '.join(report.LABELS)}")
    if args.gateway_url and not args.gateway_key:
        ap.error("--gateway-url needs --gateway-key")
    return args


def machine_info() -> dict[str, Any]:
    def run(*cmd: str) -> str:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return out.stdout or out.stderr  # nginx -v writes to stderr

    model = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in run("lscpu").splitlines()
            if ln.startswith("Model name")
        ),
        platform.processor(),
    )
    mem_kib = next(
        (
            int(ln.split()[1])
            for ln in Path("/proc/meminfo").read_text().splitlines()
            if ln.startswith("MemTotal")
        ),
        0,
    )
    nginx_exe = nginx.binary()
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "mem_gib": round(mem_kib / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
        "nginx": run(nginx_exe, "-v").strip() if nginx_exe else None,
        "git_rev": run("git", "-C", str(REPO), "rev-parse", "--short", "HEAD").strip() or None,
        "gateway_src_dirty": bool(
            run("git", "-C", str(REPO), "status", "--porcelain", "gateway/src").strip()
        ),
    }


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def cpu_busy_pct(window_s: float = 2.0) -> float:
    """How busy the whole machine is right now (all cores, from /proc/stat)."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields), idle

    total0, idle0 = sample()
    time.sleep(window_s)
    total1, idle1 = sample()
    return round(100 * (1 - (idle1 - idle0) / max(total1 - total0, 1)), 1)


def wait_for_quiet(limit_s: float, notes: list[str]) -> float:
    """Wait (bounded) until other work on the machine is below 15 % of its CPU."""
    deadline = time.monotonic() + limit_s
    busy = cpu_busy_pct()
    while busy > 15 and time.monotonic() < deadline:
        print(f"  machine {busy:.0f} % busy with other work; waiting", file=sys.stderr)
        time.sleep(8)
        busy = cpu_busy_pct()
    if busy > 15:
        notes.append(f"machine was {busy:.0f} % busy with other work when the run started")
    return busy


async def probe(
    t: Target, body: bytes, headers: dict[str, str], tokens: int, timeout_s: float = 60
) -> None:
    """One good stream end to end, or the reason it failed."""
    deadline, last = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        res = await one_stream(t, body, headers, tokens)
        if res.ok:
            return
        last = res.error
        await asyncio.sleep(0.5)
    raise RuntimeError(f"{t.label}: no good stream within {timeout_s:.0f}s (last: {last})")


async def bench(
    args: argparse.Namespace,
    targets: list[Target],
    upstream: stack.ProcTree,
    gw_idle_rss: int | None,
) -> dict[str, Any]:
    body = orjson.dumps(
        {
            "model": "bench",
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": args.tokens,
            "messages": [{"role": "user", "content": "Write a short note about benchmarks."}],
        }
    )
    headers = {"Content-Type": "application/json"}  # each path's session holds its key
    for t in targets:
        await probe(t, body, headers, args.tokens)
    # Warm-up, not recorded: first-request paths, pools, caches.
    for t in targets:
        await run_cell(t, min(max(args.levels), 50), 1.0, body, headers, args.tokens, upstream, -1)
    cells: list[CellResult] = []
    for level in args.levels:
        for rnd in range(args.rounds):
            for t in targets:
                cell = await run_cell(
                    t, level, args.duration, body, headers, args.tokens, upstream, rnd
                )
                cells.append(cell)
                print(
                    f"  {level:>4} streams  round {rnd + 1}/{args.rounds}  {t.label:<28}"
                    f" {cell.completed / cell.elapsed_s:7.1f} streams/s"
                    + (f"  errors {dict(cell.errors)}" if cell.errors else ""),
                    file=sys.stderr,
                    flush=True,
                )
    gw = next((t for t in targets if t.key == "gateway"), None)
    return {
        "cells": cells,
        "gateway_idle_rss_kib": gw_idle_rss,
        "gateway_hwm_kib": gw.tree.hwm_kib() if gw and gw.tree else None,
    }


@dataclass
class Endpoint:
    url: str
    tree: stack.ProcTree | None  # the proxy's processes (None for direct)
    ssl: ssl.SSLContext | None = None  # trusts the run's certificate (path D)
    key: str = "sk-bench-direct"  # the API key this path wants


@dataclass
class Started:
    upstream: stack.ProcTree
    endpoints: dict[str, Endpoint]  # keyed like report.LABELS
    gateway: stack.ProcTree | None  # one we started (for its idle RSS), not --gateway-url


def start_paths(
    args: argparse.Namespace, work: Path, notes: list[str], children: list[stack.Child]
) -> Started:
    """Start the upstream and every proxy asked for; a missing optional piece is a note."""
    up_child, up_port = (
        stack.start_upstream(work, args.tokens, args.gap_ms, args.first_token_delay_ms)
        if not args.upstream_port
        else _fixed_upstream(work, args)
    )
    children.append(up_child)
    endpoints = {"direct": Endpoint(f"http://127.0.0.1:{up_port}{CHAT}", None)}
    if "nginx" in args.targets:
        try:
            plain = nginx.start_plain(work, up_port, args.nginx_workers)
            children.append(plain.child)
            endpoints["nginx"] = Endpoint(plain.base_url + CHAT, plain.child.tree)
        except FileNotFoundError:
            notes.append("nginx not installed: path C skipped (apt-get install -y nginx)")
    if "litellm" in args.targets:
        if args.litellm.is_file():
            litellm, port = stack.start_litellm(args.litellm, work, up_port)
            children.append(litellm)
            url = f"http://127.0.0.1:{port}{CHAT}"
            endpoints["litellm"] = Endpoint(url, litellm.tree, key=stack.LITELLM_KEY)
        else:
            notes.append(f"{args.litellm} missing: path E (LiteLLM) skipped (make bench-litellm)")
    if "floor" in args.targets:
        floor, port = stack.start_floor(work, up_port)
        children.append(floor)
        endpoints["floor"] = Endpoint(f"http://127.0.0.1:{port}{CHAT}", floor.tree)
    gw_url, gw_tree, gw_key, started_gw = None, None, "", None
    if {"gateway", "gateway-tls"} & set(args.targets):
        if args.gateway_url:
            gw_url, gw_key = args.gateway_url.rstrip("/"), args.gateway_key
            gw_tree = stack.ProcTree(args.gateway_pid) if args.gateway_pid else None
            notes.append(f"gateway: external at {args.gateway_url}")
        elif (binary := stack.gpuchat_binary()) is None:
            notes.append("gpuchat CLI (serve, users, keys) not available: paths B and D skipped")
        else:
            gw = stack.start_gateway(
                binary,
                work,
                up_port,
                args.gateway_cprofile,
                args.gateway_workers,
                lag_out=args.gateway_lag,
            )
            children.append(gw.child)
            gw_url, gw_tree, gw_key = f"http://127.0.0.1:{gw.port}", gw.child.tree, gw.key
            started_gw = gw_tree
    if gw_url and "gateway" in args.targets:
        endpoints["gateway"] = Endpoint(gw_url + CHAT, gw_tree, key=gw_key)
    if gw_url and "gateway-tls" in args.targets:
        try:
            tls = nginx.start_production(work, urlsplit(gw_url).netloc, args.nginx_workers)
            children.append(tls.child)
            # The production proxy is nginx and the gateway together: CPU and RSS of both.
            tree = stack.ProcTree(tls.child.proc.pid, *gw_tree.roots) if gw_tree else None
            endpoints["gateway-tls"] = Endpoint(tls.base_url + CHAT, tree, tls.ssl, gw_key)
        except FileNotFoundError as exc:
            notes.append(f"{exc} not installed: path D (gpuchat behind nginx with TLS) skipped")
    return Started(up_child.tree, endpoints, started_gw)


async def main_async(args: argparse.Namespace, work: Path, notes: list[str]) -> dict[str, Any]:
    children: list[stack.Child] = []
    try:
        started = start_paths(args, work, notes, children)
        gw_idle_rss = started.gateway.rss_kib() if started.gateway else None
        gw_idle_hwm = started.gateway.hwm_kib() if started.gateway else None
        targets: list[Target] = []
        try:
            for key, label in report.LABELS.items():
                if (ep := started.endpoints.get(key)) is None:
                    continue
                session = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(
                        limit=max(args.levels) * 2, keepalive_timeout=300, ssl=ep.ssl or True
                    ),
                    timeout=aiohttp.ClientTimeout(total=60, sock_connect=10),
                    headers={"Authorization": f"Bearer {ep.key}"},
                    auto_decompress=False,
                )
                targets.append(Target(key, label, ep.url, session, ep.tree))
            raw = await bench(args, targets, started.upstream, gw_idle_rss)
            raw["gateway_idle_hwm_kib"] = gw_idle_hwm
            return raw
        finally:
            for t in targets:
                await t.session.close()
    finally:
        for child in reversed(children):
            child.stop()


def _fixed_upstream(work: Path, args: argparse.Namespace) -> tuple[stack.Child, int]:
    child = stack.spawn(
        "upstream",
        [
            sys.executable,
            str(stack.HERE / "upstream.py"),
            "--port",
            str(args.upstream_port),
            "--tokens",
            str(args.tokens),
            "--gap-ms",
            str(args.gap_ms),
            "--first-token-delay-ms",
            str(args.first_token_delay_ms),
        ],
        work,
    )
    if not stack.wait_http(f"http://127.0.0.1:{args.upstream_port}/health", 15, child.proc):
        child.stop()
        raise RuntimeError(f"upstream did not start:\n{stack.tail(child.log)}")
    return child, args.upstream_port


def _interrupt(_signum: int, _frame: object) -> NoReturn:
    raise KeyboardInterrupt


def main() -> int:
    args = parse_args()
    # SIGTERM unwinds like Ctrl-C, so the finally blocks stop every child we started.
    signal.signal(signal.SIGTERM, _interrupt)
    notes: list[str] = []
    busy_before = wait_for_quiet(args.quiet_wait, notes)
    started = dt.datetime.now(dt.UTC)
    load_before = loadavg()
    with tempfile.TemporaryDirectory(prefix="gpuchat-bench-") as tmp:
        try:
            import uvloop

            runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
            notes.append("load generator on uvloop")
        except ImportError:
            runner = asyncio.Runner()
        with runner:
            try:
                raw = runner.run(main_async(args, Path(tmp), notes))
            except RuntimeError as exc:  # a component that would not start: say which, stop
                print(f"bench-overhead: {exc}", file=sys.stderr)
                return 2
    result = report.build(args, raw, notes, machine_info(), started, load_before, loadavg())
    result["cpu_busy_pct_before"] = busy_before
    out = args.out or REPO / "bench" / "results" / f"overhead-{started:%Y-%m-%d-%H%M}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(report.markdown(result))
    print(f"\nJSON: {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
