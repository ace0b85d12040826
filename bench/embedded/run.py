"""End-to-end benchmark on the embedded default: `make run`'s gpuchat, the seed's load plan.

Sets gpuchat up in a temp data dir exactly as `make run` does (SQLite, the repository's
profiles.yaml, whose default profile is llama.cpp on the CPU with the packaged
Qwen2.5-Coder-0.5B-Instruct; the packaged models are linked, not copied), starts
`gpuchat run`, and drives it with the `gpuchat bench` library at 1 → 5 → 10 concurrent
sessions (DESIGN.md §12, seed §13): TTFT, TPOT, ITL, e2e, requests/min, output tokens/s,
error rate. Writes bench/results/embedded-<date>-<time>.json and prints a markdown table.

    .venv/bin/python bench/embedded/run.py [--levels 1,5,10] [--requests-per-session 2]
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
from typing import Any, NoReturn

import yaml

from gpuchat.engines import packaged
from gpuchat.loadtest import BenchPlan, Step, console, list_models, run_bench

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def _load(name: str, path: Path) -> ModuleType:
    """A sibling benchmark's module by path, under its own name (both dirs have report.py)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


# bench/overhead: process helpers (stack.py) and the machine record (run.py).
sys.path.insert(0, str(REPO / "bench" / "overhead"))
stack = _load("stack", REPO / "bench" / "overhead" / "stack.py")
overhead = _load("overhead_run", REPO / "bench" / "overhead" / "run.py")
report = _load("embedded_report", HERE / "report.py")


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--levels", default="1,5,10", help="concurrent sessions per step")
    ap.add_argument(
        "--requests-per-session",
        type=int,
        default=2,
        help="a step sends this many requests per session (default 2: 2, 10, 20)",
    )
    ap.add_argument(
        "--step-seconds", type=float, default=45, help="and stops starting new ones after this"
    )
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--prompt-tokens", type=int, default=64)
    ap.add_argument("--timeout", type=float, default=60, help="seconds per request")
    ap.add_argument("--profile", help="profile to bench (default: the default profile)")
    ap.add_argument(
        "--quiet-wait",
        type=float,
        default=20,
        help="wait up to this long for other work on the machine to calm down",
    )
    ap.add_argument("--out", type=Path, help="default bench/results/embedded-<date>-<time>.json")
    args = ap.parse_args()
    args.levels = [int(x) for x in args.levels.split(",") if x.strip()]
    return args


def engine_info(profile_name: str | None) -> dict[str, Any]:
    """What the benched profile runs, from the repository's profiles.yaml."""
    config = yaml.safe_load((REPO / "profiles.yaml").read_text())
    name = profile_name or config["default"]
    profile = next(p for p in config["profiles"] if p["name"] == name)
    info = {k: profile.get(k) for k in ("name", "engine", "model", "description")}
    info |= {k: profile.get(k) for k in ("llamacpp", "max_concurrency")}
    packaged_name = str(profile.get("model", "")).removeprefix("packaged:")
    if packaged_name in packaged.PACKAGED_MODELS:
        model_file = packaged.model_path(packaged_name, REPO / "data" / "models")
        info["model_file"] = model_file.name
        info["model_mib"] = round(model_file.stat().st_size / 2**20, 1)
    try:
        from importlib.metadata import version

        info["xllamacpp"] = version("xllamacpp")
    except ImportError:
        pass
    return info


def start_gpuchat(work: Path) -> tuple[stack.Child, str, str]:
    """`make run`'s gpuchat in `work`: (process, base URL, API key)."""
    binary = stack.gpuchat_binary()
    if binary is None:
        raise RuntimeError("no gpuchat CLI beside this interpreter: run `make setup` first")
    data = work / "data"
    data.mkdir()
    (data / "models").symlink_to(REPO / "data" / "models")  # `make setup` put them there
    (data / "cache").symlink_to(REPO / "data" / "cache")
    port = stack.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPUCHAT_")}
    env |= {
        "GPUCHAT_DATA_DIR": str(data),
        "GPUCHAT_PROFILES": str(REPO / "profiles.yaml"),
        "GPUCHAT_PORT": str(port),
        "GPUCHAT_LOG_LEVEL": "WARNING",
    }
    key = stack.provision(binary, work, env)
    child = stack.spawn("gpuchat", [str(binary), "run"], work, env)  # what `make run` runs
    if not stack.wait_http(f"http://127.0.0.1:{port}/healthz", 120, child.proc):
        child.stop()
        raise RuntimeError(f"gpuchat did not become healthy:\n{stack.tail(child.log)}")
    return child, f"http://127.0.0.1:{port}/v1", key


async def first_answer(plan: BenchPlan, within_s: float = 180) -> float:
    """Wait until the engine has loaded and answers one request; the seconds it took."""
    started = time.monotonic()
    probe = dataclasses.replace(plan, steps=(Step(concurrency=1),), requests=1, warmup=0)
    last: Any = None
    while time.monotonic() - started < within_s:
        (step,) = (await run_bench(probe))["steps"]
        if step["ok"]:
            return time.monotonic() - started
        last = step["errors"]
        await asyncio.sleep(2)
    raise RuntimeError(f"no answer from the engine within {within_s:.0f}s: {last}")


def bench(args: argparse.Namespace, url: str, key: str) -> dict[str, Any]:
    models = asyncio.run(list_models(url, key))
    plan = BenchPlan(
        base_url=url,
        model=args.profile or ("default" if "default" in models else models[0]),
        api_key=key,
        steps=tuple(Step(concurrency=c) for c in args.levels),
        requests_per_session=args.requests_per_session,
        duration_s=args.step_seconds,
        max_tokens=args.max_tokens,
        prompt_tokens=args.prompt_tokens,
        timeout_s=args.timeout,
        warmup=2,  # one per llama.cpp slot the first step's neighbours will use
    )
    ready_s = asyncio.run(first_answer(plan))
    result = console.run_with_progress(plan)
    console.print_table(result, to_stderr=True)
    return result | {"ready_s": round(ready_s, 1)}


def _interrupt(_signum: int, _frame: object) -> NoReturn:
    raise KeyboardInterrupt


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, _interrupt)  # unwind: the finally stops gpuchat
    notes: list[str] = []
    busy_before = overhead.wait_for_quiet(args.quiet_wait, notes)
    started = dt.datetime.now(dt.UTC)
    load_before = overhead.loadavg()
    with tempfile.TemporaryDirectory(prefix="gpuchat-embedded-") as tmp:
        try:
            child, url, key = start_gpuchat(Path(tmp))
        except RuntimeError as exc:
            print(f"bench-embedded: {exc}", file=sys.stderr)
            return 2
        try:
            raw = bench(args, url, key)
        except RuntimeError as exc:
            print(f"bench-embedded: {exc}\n{stack.tail(child.log)}", file=sys.stderr)
            return 2
        finally:
            rss_mib = round(child.tree.hwm_kib() / 1024, 1)
            child.stop()
    finished = dt.datetime.now(dt.UTC)
    result = {
        "benchmark": "embedded",
        "started_at": started.isoformat(timespec="seconds"),
        "duration_s": round((finished - started).total_seconds(), 1),
        "machine": overhead.machine_info(),
        "loadavg_before": load_before,
        "loadavg_after": overhead.loadavg(),
        "cpu_busy_pct_before": busy_before,
        "gateway": {"command": "gpuchat run", "database": "sqlite", "peak_rss_mib": rss_mib},
        "engine": engine_info(args.profile),
        "notes": notes,
        **raw,
    }
    result["settings"].pop("base_url")  # a port of a temp instance, not a setting
    out = args.out or REPO / "bench" / "results" / f"embedded-{started:%Y-%m-%d-%H%M}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(report.markdown(result))
    print(f"\nJSON: {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
