"""Real vLLM (its CPU build, `make vllm`) behind gpuchat: the seed's KPIs and engine-aware
admission, in one interleaved run.

Starts vLLM on the packaged SmolLM2 (exported by `make vllm`) and gpuchat (`gpuchat serve`,
SQLite) in front of it with two `external` profiles on the same engine: `vllm` admits by the
engine's own load (engine-aware, the default) and `vllm-static` only by `max_concurrency`.
Then, with the `gpuchat bench` library:

1. KPIs (seed §13): 1 → 5 → 10 sessions with a ~2k-token context, direct vLLM and gpuchat
   interleaved level by level (TTFT p50/p95, requests/min, 5xx), then a long step at 5
   sessions through gpuchat (`--long-seconds`, 300 by default).
2. Admission: 1, 5, 10, 20 sessions, static and engine-aware interleaved level by level.

Writes bench/results/vllm-<date>-<time>.json and prints markdown tables.

    .venv/bin/python bench/vllm/run.py [--levels 1,5,10] [--admission-levels 1,5,10,20]
        [--context-tokens 2000] [--long-seconds 300] [--kv-cache-gib 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import importlib.util
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from gpuchat.engines import hf_export
from gpuchat.loadtest import BenchPlan, Step, run_bench

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
VLLM_PYTHON = REPO / ".venv-vllm" / "bin" / "python"
MODEL = "smollm2-135m-instruct"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


sys.path.insert(0, str(REPO / "bench" / "overhead"))
stack = _load("stack", REPO / "bench" / "overhead" / "stack.py")
overhead = _load("overhead_run", REPO / "bench" / "overhead" / "run.py")


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--levels", default="1,5,10", help="KPI steps (sessions)")
    ap.add_argument("--admission-levels", default="1,5,10,20", help="admission steps")
    ap.add_argument("--context-tokens", type=int, default=2000, help="prompt length")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--requests-per-session", type=int, default=2)
    ap.add_argument("--step-seconds", type=float, default=90, help="no new request after this")
    ap.add_argument("--long-seconds", type=float, default=300, help="the 5-session step")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per request")
    ap.add_argument("--max-model-len", type=int, default=4096)
    ap.add_argument("--kv-cache-gib", type=int, default=1, help="VLLM_CPU_KVCACHE_SPACE")
    ap.add_argument(
        "--max-num-seqs", type=int, default=8, help="vLLM's batch: more wait inside vLLM"
    )
    ap.add_argument("--max-concurrency", type=int, default=32, help="the profiles' static limit")
    ap.add_argument("--skip-kpi", action="store_true")
    ap.add_argument("--skip-admission", action="store_true")
    ap.add_argument("--out", type=Path, help="default bench/results/vllm-<date>-<time>.json")
    args = ap.parse_args()
    args.levels = [int(x) for x in args.levels.split(",") if x.strip()]
    args.admission_levels = [int(x) for x in args.admission_levels.split(",") if x.strip()]
    return args


def start_vllm(work: Path, args: argparse.Namespace) -> tuple[Any, int]:
    if not VLLM_PYTHON.is_file():
        raise RuntimeError("no vLLM environment: run `make vllm` first")
    model_dir = hf_export.exported_dir(MODEL, REPO / "data" / "models")
    port = stack.free_port()
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": str(args.kv_cache_gib)}
    argv = [str(VLLM_PYTHON), "-m", "vllm.entrypoints.openai.api_server", "--model"]
    argv += [str(model_dir), "--served-model-name", "smollm2", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--max-model-len", str(args.max_model_len)]
    argv += ["--dtype", "bfloat16", "--max-num-seqs", str(args.max_num_seqs)]
    child = stack.spawn("vllm", argv, work, env)
    if not stack.wait_http(f"http://127.0.0.1:{port}/health", 900, child.proc):
        child.stop()
        raise RuntimeError(f"vLLM did not become healthy:\n{stack.tail(child.log)}")
    return child, port


def start_gpuchat(work: Path, vllm_port: int, args: argparse.Namespace) -> tuple[Any, str, str]:
    binary = stack.gpuchat_binary()
    if binary is None:
        raise RuntimeError("no gpuchat CLI beside this interpreter: run `make setup` first")
    data = work / "data"
    data.mkdir()
    profiles = work / "profiles.yaml"
    upstream = f"http://127.0.0.1:{vllm_port}/v1"
    profiles.write_text(
        "default: vllm\nprofiles:\n"
        + "".join(
            f"  - name: {name}\n    engine: external\n    urls: [{upstream!r}]\n"
            f"    served_model_name: smollm2\n    max_concurrency: {args.max_concurrency}\n"
            f"    engine_aware_admission: {aware}\n"
            f"    limits: {{max_tokens: {args.max_tokens}}}\n"
            f"    timeouts: {{first_token: {args.timeout}, total: {args.timeout}}}\n"
            for name, aware in (("vllm", "true"), ("vllm-static", "false"))
        )
    )
    port = stack.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPUCHAT_")}
    env |= {
        "GPUCHAT_DATA_DIR": str(data),
        "GPUCHAT_PROFILES": str(profiles),
        "GPUCHAT_PORT": str(port),
        "GPUCHAT_LOG_LEVEL": "WARNING",
        "GPUCHAT_QUEUE_MAX_WAIT_SECONDS": str(args.timeout),
    }
    key = stack.provision(binary, work, env)
    child = stack.spawn("gpuchat", [str(binary), "serve"], work, env)
    if not stack.wait_http(f"http://127.0.0.1:{port}/healthz", 120, child.proc):
        child.stop()
        raise RuntimeError(f"gpuchat did not become healthy:\n{stack.tail(child.log)}")
    return child, f"http://127.0.0.1:{port}/v1", key


def plan(args: argparse.Namespace, url: str, model: str, key: str | None, **kw: Any) -> BenchPlan:
    values: dict[str, Any] = {
        "base_url": url,
        "model": model,
        "api_key": key,
        "requests_per_session": args.requests_per_session,
        "duration_s": args.step_seconds,
        "max_tokens": args.max_tokens,
        "prompt_tokens": args.context_tokens,
        "timeout_s": args.timeout,
    }
    return BenchPlan(**(values | kw))


def step(p: BenchPlan, sessions: int, label: str) -> dict[str, Any]:
    started = time.monotonic()
    (result,) = asyncio.run(run_bench(_one(p, sessions)))["steps"]
    print(f"  {label:<22} {sessions:>3} sessions: {_line(result)}", file=sys.stderr)
    return result | {"label": label, "wall_s": round(time.monotonic() - started, 1)}


def _one(p: BenchPlan, sessions: int) -> BenchPlan:
    return dataclasses.replace(p, steps=(Step(concurrency=sessions),), warmup=0)


def _line(result: dict[str, Any]) -> str:
    ttft = result.get("ttft_ms") or {}
    return (
        f"ok {result['ok']} failed {result['failed']}, TTFT p50 {ttft.get('p50')} "
        f"p95 {ttft.get('p95')} ms, {result['requests_per_min']} req/min"
    )


def markdown(result: dict[str, Any]) -> str:
    """The tables docs/benchmarks.md shows."""

    def row(step: dict[str, Any], extra: str = "") -> str:
        ttft = step["ttft_ms"] or {}
        return (
            f"| {step['concurrency'] if 'concurrency' in step else step['sessions']} "
            f"| {step['label']} | {ttft.get('p50', '–')} | {ttft.get('p95', '–')} "
            f"| {step['requests_per_min']} | {step['output_tokens_per_s']} "
            f"| {step['failed']}/{step['requests']} |{extra}"
        )

    head = "| sessions | path | TTFT p50 ms | TTFT p95 ms | req/min | out tok/s | failed |"
    rule = "|---|---|---|---|---|---|---|"
    lines = [
        "KPIs (~{} prompt tokens):".format(result["settings"]["context_tokens"]),
        "",
        head + " gpuchat ÷ direct |",
        rule + "---|",
    ]
    kpi = result["kpi"]
    for direct, gpuchat in zip(kpi[::2], kpi[1::2], strict=True):
        ratio = (
            gpuchat["requests_per_min"] / direct["requests_per_min"]
            if direct["requests_per_min"]
            else 0
        )
        lines += [row(direct, " |"), row(gpuchat, f" {ratio:.2f}× |")]
    if result["long"]:
        lines += ["", "Long step:", "", head, rule, row(result["long"])]
    if result["admission"]:
        lines += ["", "Admission:", "", head, rule]
        lines += [row(step) for step in result["admission"]]
    return "\n".join(lines)


def warm_up(args: argparse.Namespace, direct: str, sessions: int) -> None:
    """One unrecorded request per session at this concurrency, straight to vLLM: on a CPU,
    vLLM compiles its graph again for a batch shape it has not run yet, and whichever path
    went first at a new level would pay for it (seconds of TTFT)."""
    p = plan(args, direct, "smollm2", None, requests=sessions, duration_s=None)
    asyncio.run(run_bench(_one(p, sessions)))


def run(args: argparse.Namespace, vllm_port: int, url: str, key: str) -> dict[str, Any]:
    direct = f"http://127.0.0.1:{vllm_port}/v1"
    out: dict[str, Any] = {"kpi": [], "long": None, "admission": []}
    # Warm-up: vLLM's first requests on a CPU pay for lazy initialisation.
    asyncio.run(run_bench(_one(plan(args, direct, "smollm2", None, requests=2), 1)))
    if not args.skip_kpi:
        for sessions in args.levels:  # interleaved: direct, then gpuchat, level by level
            warm_up(args, direct, sessions)
            out["kpi"].append(step(plan(args, direct, "smollm2", None), sessions, "direct"))
            out["kpi"].append(step(plan(args, url, "vllm", key), sessions, "gpuchat"))
        if args.long_seconds > 0:
            long = plan(
                args, url, "vllm", key, requests_per_session=10_000, duration_s=args.long_seconds
            )
            out["long"] = step(long, 5, "gpuchat, long")
    if not args.skip_admission:
        for sessions in args.admission_levels:
            warm_up(args, direct, sessions)
            out["admission"].append(step(plan(args, url, "vllm-static", key), sessions, "static"))
            out["admission"].append(step(plan(args, url, "vllm", key), sessions, "engine-aware"))
    return out


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, overhead._interrupt)  # unwind: the finally stops both
    notes: list[str] = []
    busy_before = overhead.wait_for_quiet(20, notes)
    started = dt.datetime.now(dt.UTC)
    with tempfile.TemporaryDirectory(prefix="gpuchat-vllm-bench-") as tmp:
        work = Path(tmp)
        vllm = gateway = None
        try:
            load_started = time.monotonic()
            vllm, vllm_port = start_vllm(work, args)
            ready_s = round(time.monotonic() - load_started, 1)
            gateway, url, key = start_gpuchat(work, vllm_port, args)
            raw = run(args, vllm_port, url, key)
        except RuntimeError as exc:
            print(f"bench-vllm: {exc}", file=sys.stderr)
            return 2
        finally:
            rss = round(gateway.tree.hwm_kib() / 1024, 1) if gateway is not None else None
            for child in (gateway, vllm):
                if child is not None:
                    child.stop()
    finished = dt.datetime.now(dt.UTC)
    result = {
        "benchmark": "vllm",
        "started_at": started.isoformat(timespec="seconds"),
        "duration_s": round((finished - started).total_seconds(), 1),
        "machine": overhead.machine_info(),
        "cpu_busy_pct_before": busy_before,
        "notes": notes,
        "engine": {
            "vllm": "vllm-cpu 0.32.0",
            "model": f"{MODEL} (bf16, exported by make vllm)",
            "max_model_len": args.max_model_len,
            "kv_cache_gib": args.kv_cache_gib,
            "max_num_seqs": args.max_num_seqs,
            "ready_s": ready_s,
        },
        "gateway": {"command": "gpuchat serve", "database": "sqlite", "peak_rss_mib": rss},
        "settings": {
            k: v for k, v in vars(args).items() if k not in ("out",) and not k.startswith("skip")
        },
        **raw,
    }
    out = args.out or REPO / "bench" / "results" / f"vllm-{started:%Y-%m-%d-%H%M}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=str) + "\n")
    print(markdown(result))
    print(f"JSON: {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
