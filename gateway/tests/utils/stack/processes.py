"""Child processes of the stack: each in its own session (process group), stopped by that
group's id, never by name. What /proc says of a group: its processes, RSS, open files."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def http_ok(url: str | urllib.request.Request, timeout_s: float = 2.0, **kwargs: Any) -> bool:
    """GET `url` answers 2xx (127.0.0.1 only)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s, **kwargs) as resp:  # noqa: S310
            return 200 <= int(resp.status) < 300
    except (urllib.error.URLError, OSError, TimeoutError):
        return False


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


@dataclass
class Proc:
    """One started command (and whatever it forks, in its process group)."""

    name: str
    argv: list[str]
    log: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    user: str | None = None  # run as this user (PostgreSQL refuses root)
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> Proc:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            out.write(f"\n--- {time.strftime('%H:%M:%S')} start {self.name}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                user=self.user,
                group=self.user,
                extra_groups=[] if self.user else None,
                start_new_session=True,
            )
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def send(self, sig: int) -> None:
        """`sig` to the whole process group (a replica's master and its workers)."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        """kill -9 of the group, reaped."""
        self.send(signal.SIGKILL)
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)

    def stop(self, sig: int = signal.SIGTERM, grace_s: float = 20.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.send(signal.SIGCONT)  # a frozen process cannot act on SIGTERM
            self.send(sig)
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.send(signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.send(signal.SIGKILL)  # what the group leader left behind

    def wait_until(self, ready: Any, timeout_s: float, what: str) -> None:
        """Poll `ready()` until true; RuntimeError (with the log's tail) if the process
        exits or the time is up."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if ready():
                return
            if not self.alive():
                break
            time.sleep(0.2)
        state = "exited" if not self.alive() else f"not {what} after {timeout_s:g} s"
        raise RuntimeError(f"{self.name} {state}:\n{tail(self.log)}")


# --- /proc ---------------------------------------------------------------------------------


def group_pids(pgid: int) -> list[int]:
    """Every live process of a process group."""
    out = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] != b"Z":
            out.append(int(entry.name))
    return sorted(out)


def rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def open_files(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def group_usage(pgid: int) -> dict[str, int]:
    """Processes, summed RSS (KiB) and open file descriptors of a process group."""
    pids = group_pids(pgid)
    return {
        "processes": len(pids),
        "rss_kib": sum(rss_kib(p) for p in pids),
        "open_files": sum(open_files(p) for p in pids),
    }
