"""How long a second `make run` takes to serve (docs/operations.md, "The first run").

Runs `make run` in a checkout with a temp data dir (SQLite; the packaged models linked from
./data/models), once to set it up, then `--runs` times more, and for each says:
- wall clock from `make run` to the gateway answering /healthz, the web page (/) and the
  API (/v1/models, 401 without a key), and to the model answering (/readyz 200);
- the CPU time (user + sys) of make, the setup script and the gateway at that moment, the
  engine's process left out: the figure to compare on a machine that others use too.
With `--base DIR` (another checkout, e.g. `git worktree add /tmp/base main`, with its
`.venv` and `frontend/node_modules` and `dist` linked or built), the two alternate run by
run, each importing its own gateway/src. Writes bench/results/startup-<date>-<time>.json
and prints a markdown table of the medians.

    .venv/bin/python bench/startup/run.py [--runs 5] [--base DIR] [--port 18480]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PATHS = ("/healthz", "/", "/v1/models", "/readyz")
TICK = os.sysconf("SC_CLK_TCK")


def status(port: int, path: str) -> int | None:
    """The HTTP status of GET `path`, None while nothing answers."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
            conn.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            return int(conn.recv(64).split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def tree_cpu(root: int) -> float:
    """CPU seconds of `root` and its descendants, with their waited-for children; the
    engine (the llama.cpp server the gateway starts) left out."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                children.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
            except OSError:
                continue
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        try:
            if b"llamacpp_server" in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            total += sum(int(x) for x in _stat(pid)[11:15]) / TICK  # utime stime cutime cstime
        except OSError:
            continue
        todo.extend(children.get(pid, []))
    return total


def stop(make: subprocess.Popen[bytes]) -> None:
    """SIGTERM to what make runs (the gateway then stops its engine), and wait for it."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat(int(entry.name))[1]) == make.pid:
                    os.kill(int(entry.name), signal.SIGTERM)
            except OSError:
                continue
    try:
        make.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(make.pid, signal.SIGKILL)
        make.wait()


def one_run(tree: Path, env: dict[str, str], port: int, log: Path) -> dict[str, float]:
    started = time.monotonic()
    with log.open("w") as out:
        make = subprocess.Popen(
            ["make", "-s", "run"], cwd=tree, env=env, stdout=out, stderr=out, start_new_session=True
        )
    seen: dict[str, float] = {}
    try:
        while time.monotonic() - started < 180 and make.poll() is None and "/readyz" not in seen:
            serving = all(p in seen for p in PATHS[:3])
            for path in PATHS if serving else PATHS[:3]:
                code = status(port, path) if path not in seen else None
                if code is not None and (path != "/readyz" or code == 200):
                    seen[path] = round(time.monotonic() - started, 2)
            if not serving and all(p in seen for p in PATHS[:3]):
                seen["cpu"] = round(tree_cpu(make.pid), 2)
            time.sleep(0.1 if serving else 0.02)
    finally:
        stop(make)
    if len(seen) < 5:
        raise SystemExit(f"{tree}: not serving within 180 s (see {log})")
    seen["serving"] = max(seen[p] for p in PATHS[:3])
    return seen


def commit(tree: Path) -> str | None:
    """The checkout's commit (None for a tree that is not a git checkout)."""
    found = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    return found.stdout.strip() if found.returncode == 0 else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="measured runs per checkout")
    ap.add_argument("--base", type=Path, help="another checkout to compare with, interleaved")
    ap.add_argument("--port", type=int, default=18480)
    args = ap.parse_args()
    trees = {"this": REPO, **({"base": args.base.resolve()} if args.base else {})}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    with tempfile.TemporaryDirectory(prefix="gpuchat-startup-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        (data / "models").symlink_to(REPO / "data" / "models")
        for run in range(args.runs + 1):  # the first one sets the data dir up: not counted
            for name, tree in trees.items():
                env = dict(
                    os.environ,
                    GPUCHAT_DATA_DIR=str(data),
                    GPUCHAT_PORT=str(args.port),
                    GPUCHAT_ADMIN_PASSWORD=secrets.token_urlsafe(16),
                    PYTHONPATH=str(tree / "gateway" / "src"),
                )
                times = one_run(tree, env, args.port, Path(tmp) / f"{name}.log")
                if run:
                    results[name].append(times)
                    print(name, times, flush=True)
    medians = {
        name: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        for name, runs in results.items()
    }
    stamp = dt.datetime.now(dt.UTC)
    result: dict[str, Any] = {
        "kind": "startup",
        "started": stamp.isoformat(),
        "commits": {name: commit(tree) for name, tree in trees.items()},
        "cpus": os.cpu_count(),
        "loadavg_before": load_before,
        "loadavg_after": Path("/proc/loadavg").read_text().split()[:3],
        "runs": results,
        "medians": medians,
    }
    out = REPO / "bench" / "results" / f"startup-{stamp:%Y-%m-%d-%H%M}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\n| checkout | serving | {' | '.join(PATHS)} | CPU at serving |")
    print("|---" + "|---:" * 6 + "|")
    for name, m in medians.items():
        cells = " | ".join(f"{m[p]:.2f} s" for p in PATHS)
        print(f"| {name} | {m['serving']:.2f} s | {cells} | {m['cpu']:.2f} s |")
    print(f"\nmedians of {args.runs} runs each; written to {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
