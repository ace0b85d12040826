"""The processes under test: the synthetic upstream and the gpuchat gateway (nginx.py: nginx).

Each is a child of the benchmark in its own session (process group), started on a free
127.0.0.1 port, and stopped by its own process-group id. `ProcTree` reads CPU time and
memory of a process and its descendants from /proc.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
BENCH_PASSWORD = "pw-long-enough-123"  # noqa: S105 - a throwaway user in a throwaway database
BENCH_EMAIL = "bench@example.com"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(
    url: str,
    timeout_s: float,
    proc: subprocess.Popen[bytes] | None = None,
    context: ssl.SSLContext | None = None,
) -> bool:
    """Poll until `url` answers 2xx, the process dies, or the time is up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as resp:  # noqa: S310 - 127.0.0.1 only
                if 200 <= resp.status < 300:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    return False


def tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


class ProcTree:
    """CPU seconds and memory of root processes plus all of their live descendants."""

    def __init__(self, *root_pids: int) -> None:
        self.roots = root_pids

    def pids(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            ppid = int(stat[stat.rfind(b")") + 2 :].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
        out: list[int] = []
        todo = list(self.roots)
        while todo and len(out) < 1024:
            pid = todo.pop()
            out.append(pid)
            todo.extend(children.get(pid, []))
        return out

    @staticmethod
    def _stat_cpu_s(pid: int) -> float:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            return 0.0
        # fields[0] is field 3 (state); utime and stime are fields 14 and 15, in clock ticks.
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    @staticmethod
    def _task_runtime_ns(pid: int) -> dict[int, int]:
        """On-CPU nanoseconds of every live thread (schedstat), keyed by thread id."""
        out: dict[int, int] = {}
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            return out
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as f:
                    out[int(tid)] = int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                continue
        return out

    @staticmethod
    def _status_kib(pid: int, key: bytes) -> int:
        try:
            with open(f"/proc/{pid}/status", "rb") as f:
                for line in f:
                    if line.startswith(key):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def cpu_snapshot(self, pids: list[int]) -> tuple[dict[int, int], float]:
        """(per-thread schedstat ns, utime+stime s) for the given processes."""
        threads: dict[int, int] = {}
        for p in pids:
            threads.update(self._task_runtime_ns(p))
        return threads, sum(self._stat_cpu_s(p) for p in pids)

    @staticmethod
    def cpu_delta_s(
        before: tuple[dict[int, int], float], after: tuple[dict[int, int], float]
    ) -> float:
        """CPU seconds between two snapshots.

        schedstat has nanosecond resolution (utime+stime only 1/CLK_TCK, 10 ms), but a thread
        that exited in between takes its time with it; utime+stime keeps that time. Use the
        precise figure unless the coarse one shows more than its rounding can explain.
        """
        t0, t1 = before[0], after[0]
        precise = sum(ns - t0.get(tid, 0) for tid, ns in t1.items()) / 1e9
        coarse = after[1] - before[1]
        slack = 2 * (len(t0) + len(t1)) / CLK_TCK
        return coarse if coarse - precise > slack else precise

    def rss_kib(self, pids: list[int] | None = None) -> int:
        return sum(self._status_kib(p, b"VmRSS:") for p in (pids or self.pids()))

    def hwm_kib(self) -> int:
        """Peak RSS over each process's lifetime (VmHWM), summed over the tree."""
        return sum(self._status_kib(p, b"VmHWM:") for p in self.pids())


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    tree: ProcTree = field(init=False)

    def __post_init__(self) -> None:
        self.tree = ProcTree(self.proc.pid)

    def stop(self, sig: int = signal.SIGTERM, grace_s: float = 10.0) -> None:
        if self.proc.poll() is not None:
            return
        pgid = self.proc.pid  # started with start_new_session=True, so pgid == pid
        try:
            os.killpg(pgid, sig)
            self.proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            os.killpg(pgid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        except ProcessLookupError:
            pass


def spawn(name: str, cmd: list[str], workdir: Path, env: dict[str, str] | None = None) -> Child:
    log = workdir / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=workdir,
            env=env,
            start_new_session=True,
        )
    return Child(name, proc, log)


def start_upstream(workdir: Path, tokens: int, gap_ms: float, first_ms: float) -> tuple[Child, int]:
    port = free_port()
    child = spawn(
        "upstream",
        [
            sys.executable,
            str(HERE / "upstream.py"),
            "--port",
            str(port),
            "--tokens",
            str(tokens),
            "--gap-ms",
            str(gap_ms),
            "--first-token-delay-ms",
            str(first_ms),
        ],
        workdir,
    )
    if not wait_http(f"http://127.0.0.1:{port}/health", 15, child.proc):
        child.stop()
        raise RuntimeError(f"upstream did not start:\n{tail(child.log)}")
    return child, port


def gpuchat_binary() -> Path | None:
    """The gpuchat CLI beside this interpreter, if it has the commands the bench needs."""
    path = Path(sys.executable).parent / "gpuchat"
    if not path.exists():
        found = shutil.which("gpuchat")
        if found is None:
            return None
        path = Path(found)
    try:
        out = subprocess.run([str(path), "--help"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    ok = out.returncode == 0 and all(c in out.stdout for c in ("serve", "users", "keys"))
    return path if ok else None


@dataclass
class Gateway:
    child: Child
    port: int
    key: str


def provision(binary: Path, workdir: Path, env: dict[str, str]) -> str:
    """What an operator does before the first start: migrate, an admin, an API key (returned)."""

    def cli(*args: str, stdin: str | None = None) -> str:
        out = subprocess.run(
            [str(binary), *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=workdir,
            env=env,
            timeout=120,
        )
        if out.returncode != 0:
            raise RuntimeError(
                f"gpuchat {' '.join(args)} failed ({out.returncode}):\n"
                f"{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
            )
        return out.stdout

    cli("db", "upgrade")
    cli("users", "create", BENCH_EMAIL, "--admin", "--password-stdin", stdin=BENCH_PASSWORD + "\n")
    lines = cli("keys", "create", "--user", BENCH_EMAIL, "--name", "bench").split()
    if not lines:
        raise RuntimeError("gpuchat keys create printed no key")
    return lines[-1]


def start_gateway(
    binary: Path,
    workdir: Path,
    upstream_port: int,
    cprofile_out: Path | None = None,
    workers: int = 1,
    lag_out: Path | None = None,
) -> Gateway:
    """`gpuchat serve` in front of the upstream; with `workers` > 1, `gpuchat run` (the
    workers and the supervisor they share, as an operator would start them)."""
    gdir = workdir / "gateway"
    gdir.mkdir()
    profiles = gdir / "profiles.yaml"
    profiles.write_text(
        "default: synth\nprofiles:\n  - name: synth\n    aliases: [bench]\n"
        "    engine: external\n"
        f'    urls: ["http://127.0.0.1:{upstream_port}/v1"]\n'
        "    max_concurrency: 1000\n"
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPUCHAT_")}
    env.update(
        {
            "GPUCHAT_PROFILES": str(profiles),
            "GPUCHAT_DATA_DIR": str(gdir / "data"),
            "GPUCHAT_DATABASE_URL": f"sqlite+aiosqlite:///{gdir / 'bench.db'}",
            "GPUCHAT_PORT": str(port),
            "GPUCHAT_LOG_LEVEL": "WARNING",
            "GPUCHAT_WORKERS": str(workers),
        }
    )

    key = provision(binary, gdir, env)
    cmd = [str(binary), "serve" if workers == 1 else "run"]
    if cprofile_out is not None:
        cmd = [sys.executable, str(HERE / "cprofile_serve.py"), str(cprofile_out.resolve())]
    elif lag_out is not None:
        cmd = [sys.executable, str(HERE / "lag_serve.py"), str(lag_out.resolve())]
    child = spawn("gateway", cmd, gdir, env)
    if not wait_http(f"http://127.0.0.1:{port}/healthz", 60, child.proc):
        child.stop()
        raise RuntimeError(f"gateway did not become healthy:\n{tail(child.log)}")
    return Gateway(child, port, key)


def start_floor(workdir: Path, upstream_port: int) -> tuple[Child, int]:
    """The least a Python relay does, on uvicorn and aiohttp like the gateway (path F)."""
    port = free_port()
    cmd = [sys.executable, str(HERE / "floor.py"), "--port", str(port)]
    child = spawn("floor", [*cmd, "--upstream", f"http://127.0.0.1:{upstream_port}"], workdir)
    if not wait_http(f"http://127.0.0.1:{port}/health", 30, child.proc):
        child.stop()
        raise RuntimeError(f"the Python floor relay did not start:\n{tail(child.log)}")
    return child, port


LITELLM_KEY = "sk-bench-litellm"  # the proxy's master key, in a throwaway config


def start_litellm(binary: Path, workdir: Path, upstream_port: int) -> tuple[Child, int]:
    """The LiteLLM proxy, one worker, no database, in front of the upstream (path E)."""
    ldir = workdir / "litellm"
    ldir.mkdir()
    config = ldir / "config.yaml"
    config.write_text(
        "model_list:\n  - model_name: bench\n    litellm_params:\n"
        f"      model: openai/bench\n      api_base: http://127.0.0.1:{upstream_port}/v1\n"
        "      api_key: none\n"
        f"general_settings:\n  master_key: {LITELLM_KEY}\n"
        "litellm_settings:\n  telemetry: false\n"
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LITELLM_", "OPENAI_"))}
    env |= {"LITELLM_LOG": "ERROR", "LITELLM_MODE": "PRODUCTION"}
    cmd = [str(binary), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)]
    child = spawn("litellm", [*cmd, "--num_workers", "1"], ldir, env)
    if not wait_http(f"http://127.0.0.1:{port}/health/liveliness", 180, child.proc):
        child.stop()
        raise RuntimeError(f"LiteLLM did not become healthy:\n{tail(child.log)}")
    return child, port
