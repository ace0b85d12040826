"""The production topology of docker-compose.yml as processes on 127.0.0.1:

    client ──TLS──> nginx (deploy/nginx/gpuchat.conf, templated)
                      ├──> gateway-0  `gpuchat serve`, GPUCHAT_WORKERS=2 ──┐
                      └──> gateway-1  `gpuchat serve`, GPUCHAT_WORKERS=2 ──┤
                                       PostgreSQL, Redis (our own) <───────┤
                                       `gpuchat supervisor` ──> engine <───┘

`Stack` starts all of it (in that order, bottom up), exposes URLs, pids and the faults the
chaos suite injects, and stops everything it started, by process group, on exit.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.utils.stack.processes import Proc, free_port, group_usage, http_ok
from tests.utils.stack.services import REPO, Nginx, Postgres, Redis

FAKE_UPSTREAM = REPO / "gateway" / "tests" / "fakes" / "upstream.py"
ADMIN_EMAIL = "stack-admin@gpuchat.test"
STATE_FILE = "stack.json"  # the runner's pid and every child's process group


@dataclass
class StackConfig:
    root: Path
    engine: str = "fake"  # the default profile: fake | llamacpp | vllm
    vllm: bool = False  # also configure the vLLM profile (its CPU build, `make vllm`)
    replicas: int = 2
    workers: int = 2
    fake_gap_s: float = 0.05  # the fake engine's seconds per token
    log_level: str = "WARNING"

    @classmethod
    def from_env(cls, root: Path) -> StackConfig:
        vllm = os.environ.get("STACK_VLLM", "") == "1"
        engine = os.environ.get("STACK_ENGINE") or ("vllm" if vllm else "fake")
        return cls(root=root, engine=engine, vllm=vllm or engine == "vllm")


def profiles_yaml(config: StackConfig) -> str:
    fake_argv = [sys.executable, str(FAKE_UPSTREAM), "--port", "{port}"]
    fake_argv += ["--gap", str(config.fake_gap_s)]
    default = {"fake": "fake", "llamacpp": "local", "vllm": "smollm2-vllm"}[config.engine]

    def aliases(name: str, *more: str) -> str:
        return json.dumps(["default", *more] if name == default else list(more))

    text = f"""default: {default}
profiles:
  - name: fake
    aliases: {aliases("fake", "fake-model")}
    engine: command
    command: {json.dumps(fake_argv)}
    health: /health
    served_model_name: fake
    max_concurrency: 64
    limits: {{max_tokens: 512}}
    timeouts: {{connect: 5, first_token: 30, idle: 30, total: 300, start: 30}}
  - name: local
    aliases: {aliases("local", "qwen2.5-coder-0.5b")}
    engine: llamacpp
    model: packaged:qwen2.5-coder-0.5b-instruct
    llamacpp: {{ctx: 8192, parallel: 4}}
    max_concurrency: 4
    limits: {{max_tokens: 2048}}
"""
    if config.vllm:
        text += f"""  - name: smollm2-vllm
    aliases: {aliases("smollm2-vllm", "smollm2-135m")}
    engine: vllm
    model: packaged:smollm2-135m-instruct
    vllm: {{max_model_len: 2048, dtype: bfloat16, cpu_kvcache_space: 1}}
    max_concurrency: 8
    limits: {{max_tokens: 1024}}
    timeouts: {{start: 600}}
"""
    return text


def _secrets(root: Path) -> dict[str, str]:
    """The stack's secrets, generated once (0600): the session key, the supervisor's."""
    path = root / "secrets.json"
    if not path.exists():
        values = {
            "secret_key": secrets.token_urlsafe(48),
            "supervisor_secret": secrets.token_urlsafe(48),
            "admin_password": secrets.token_urlsafe(24),
        }
        path.touch(mode=0o600)
        path.write_text(json.dumps(values))
    loaded: dict[str, str] = json.loads(path.read_text())
    return loaded


@dataclass
class Stack:
    config: StackConfig
    postgres: Postgres = field(init=False)
    redis: Redis = field(init=False)
    nginx: Nginx = field(init=False)
    supervisor: Proc | None = None
    gateways: list[Proc] = field(default_factory=list)
    gateway_ports: list[int] = field(default_factory=list)
    supervisor_port: int = field(default_factory=free_port)
    _token: str | None = None

    def __post_init__(self) -> None:
        root = self.config.root
        root.mkdir(parents=True, exist_ok=True)
        self.secrets = _secrets(root)
        self.postgres = Postgres(root / "pg")
        self.redis = Redis(root / "redis")
        self.gateway_ports = [free_port() for _ in range(self.config.replicas)]
        self.nginx = Nginx(root / "nginx", self.gateway_ports)
        self.logs = root / "logs"

    # --- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        (self.config.root / "redis").mkdir(exist_ok=True)
        self.postgres.start()
        self.redis.start()
        self._write_state()
        self._provision()
        self._start_supervisor()
        self._write_state()
        for index in range(self.config.replicas):
            self.start_gateway(index)
        self.nginx.start()
        self._write_state()
        self.wait_healthy(60)

    def stop(self) -> None:
        """Top down: nginx, the replicas, the supervisor (it stops its engines), Redis,
        PostgreSQL. Safe to call twice."""
        with contextlib.suppress(AttributeError):
            self.nginx.stop()
        for gateway in self.gateways:
            gateway.stop(signal.SIGTERM, grace_s=35)
        if self.supervisor is not None:
            self.supervisor.stop(signal.SIGTERM, grace_s=60)
        self.redis.stop()
        self.postgres.stop()
        with contextlib.suppress(OSError):
            (self.config.root / STATE_FILE).unlink()

    def _write_state(self) -> None:
        children = {
            name: proc.pid
            for name, proc in self._procs().items()
            if proc is not None and proc.pid is not None
        }
        state = {"runner": os.getpid(), "children": children, "url": self.url}
        (self.config.root / STATE_FILE).write_text(json.dumps(state, indent=2))

    def _procs(self) -> dict[str, Proc | None]:
        procs: dict[str, Proc | None] = {
            "postgres": self.postgres.proc,
            "redis": self.redis.proc,
            "supervisor": self.supervisor,
            "nginx": self.nginx.proc,
        }
        procs |= {f"gateway-{i}": p for i, p in enumerate(self.gateways)}
        return procs

    # --- processes -----------------------------------------------------------------------

    def _gpuchat(self) -> str:
        return str(Path(sys.executable).parent / "gpuchat")

    def base_env(self, data_dir: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GPUCHAT_")}
        env.update(
            {
                "GPUCHAT_ENV": "production",
                "GPUCHAT_DATA_DIR": str(data_dir),
                "GPUCHAT_PROFILES": str(self.config.root / "profiles.yaml"),
                "GPUCHAT_SECRET_KEY": self.secrets["secret_key"],
                "GPUCHAT_SUPERVISOR_SECRET": self.secrets["supervisor_secret"],
                "GPUCHAT_LOG_LEVEL": self.config.log_level,
            }
        )
        return env

    def gateway_env(self, index: int) -> dict[str, str]:
        env = self.base_env(self.config.root / f"gateway-{index}")
        env.update(
            {
                "GPUCHAT_HOST": "127.0.0.1",
                "GPUCHAT_PORT": str(self.gateway_ports[index]),
                "GPUCHAT_WORKERS": str(self.config.workers),
                "GPUCHAT_DATABASE_URL": self.postgres.url,
                "GPUCHAT_REDIS_URL": self.redis.url,
                "GPUCHAT_SUPERVISOR_URL": f"http://127.0.0.1:{self.supervisor_port}",
                "GPUCHAT_UI_DIR": str(REPO / "frontend" / "dist"),
                "GPUCHAT_TRUSTED_PROXIES": "127.0.0.1",
                "GPUCHAT_ALLOWED_HOSTS": "127.0.0.1,localhost",
                "GPUCHAT_ADMIN_EMAIL": ADMIN_EMAIL,
                "GPUCHAT_ADMIN_PASSWORD": self.secrets["admin_password"],
            }
        )
        return env

    def _provision(self) -> None:
        """What the compose file's `migrate` job does, before any replica starts: the
        schema (replicas then find nothing to migrate) and the admin the harness uses."""
        (self.config.root / "profiles.yaml").write_text(profiles_yaml(self.config))
        env = self.gateway_env(0)
        out = subprocess.run(
            [self._gpuchat(), "db", "upgrade"],
            env=env,
            cwd=self.config.root,
            capture_output=True,
            text=True,
            timeout=180,
        )
        if out.returncode != 0:
            raise RuntimeError(f"gpuchat db upgrade failed:\n{out.stdout}\n{out.stderr}")
        out = subprocess.run(
            [self._gpuchat(), "users", "create", ADMIN_EMAIL, "--admin", "--password-stdin"],
            input=self.secrets["admin_password"] + "\n",
            env=env,
            cwd=self.config.root,
            capture_output=True,
            text=True,
            timeout=180,
        )
        if out.returncode != 0 and "already exists" not in out.stderr:
            raise RuntimeError(f"gpuchat users create failed:\n{out.stdout}\n{out.stderr}")

    def _start_supervisor(self) -> None:
        data = self.config.root / "supervisor"
        data.mkdir(exist_ok=True)
        models = data / "models"
        if not models.exists():
            models.symlink_to(REPO / "data" / "models")
        argv = [self._gpuchat(), "supervisor", "--host", "127.0.0.1"]
        argv += ["--port", str(self.supervisor_port)]
        env = self.base_env(data) | {"GPUCHAT_START_ENGINES": "true"}
        self.supervisor = Proc(
            "supervisor", argv, self.logs / "supervisor.log", env, self.config.root
        ).start()
        healthz = f"http://127.0.0.1:{self.supervisor_port}/healthz"
        self.supervisor.wait_until(lambda: http_ok(healthz), 120, "healthy")
        timeout = 900 if self.config.engine == "vllm" else 120
        self.wait_engine_ready(timeout)

    def start_gateway(self, index: int) -> None:
        """Start replica `index` (again, after a kill) and wait until it is ready."""
        argv = [self._gpuchat(), "serve"]
        log = self.logs / f"gateway-{index}.log"
        proc = Proc(f"gateway-{index}", argv, log, self.gateway_env(index), self.config.root)
        proc.start()
        if index < len(self.gateways):
            self.gateways[index] = proc
        else:
            self.gateways.append(proc)
        self._write_state()
        proc.wait_until(lambda: self.gateway_ready(index), 120, "ready")

    # --- views ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.nginx.url

    def gateway_ready(self, index: int) -> bool:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.gateway_ports[index]}/readyz", headers={"Host": "127.0.0.1"}
        )
        return http_ok(request)

    def engine_status(self) -> dict[str, Any]:
        """The supervisor's view of the default profile's engine (pid, port, state)."""
        url = f"http://127.0.0.1:{self.supervisor_port}/control/statuses"
        headers = {"Authorization": f"Bearer {self.secrets['supervisor_secret']}"}
        request = urllib.request.Request(url, headers=headers)
        with urllib.request.urlopen(request, timeout=5) as resp:  # noqa: S310 - loopback
            body = json.load(resp)
        default = {"fake": "fake", "llamacpp": "local", "vllm": "smollm2-vllm"}[self.config.engine]
        status: dict[str, Any] = next(s for s in body["statuses"] if s["name"] == default)
        return status

    def engine_ready(self) -> bool:
        try:
            return bool(self.engine_status()["state"] == "ready")
        except (OSError, ValueError, KeyError, StopIteration):
            return False

    def wait_engine_ready(self, timeout_s: float) -> None:
        assert self.supervisor is not None
        self.supervisor.wait_until(self.engine_ready, timeout_s, "serving a ready engine")

    def wait_healthy(self, timeout_s: float = 60) -> float:
        """Until every replica says ready (database and engine) and nginx serves; seconds."""
        t0 = time.monotonic()
        deadline = t0 + timeout_s
        context = self.nginx.ssl_context()
        while time.monotonic() < deadline:
            replicas = all(self.gateway_ready(i) for i in range(len(self.gateways)))
            if replicas and http_ok(f"{self.url}/readyz", context=context):
                return time.monotonic() - t0
            time.sleep(0.25)
        raise RuntimeError(f"the stack is not healthy after {timeout_s:g} s")

    def usage(self) -> dict[str, dict[str, int]]:
        """Processes, RSS and open files of each component (a replica: master + workers)."""
        out = {n: group_usage(p.pid) for n, p in self._procs().items() if p and p.pid}
        with contextlib.suppress(OSError, ValueError, KeyError, StopIteration):
            pid = self.engine_status()["pid"]
            if pid:
                out["engine"] = group_usage(os.getpgid(pid))
        return out

    # --- the admin's API, through nginx --------------------------------------------------

    def _api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"Content-Type": "application/json"}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data, headers, method=method)  # noqa: S310
        context = self.nginx.ssl_context()
        with urllib.request.urlopen(request, timeout=30, context=context) as resp:  # noqa: S310
            return json.load(resp)

    def new_key(self, name: str) -> tuple[int, str]:
        """A fresh API key of the stack's admin (id, key): one per load phase, so the
        phase's usage rows are the rows of its key."""
        if self._token is None:
            login = {"email": ADMIN_EMAIL, "password": self.secrets["admin_password"]}
            self._token = self._api("POST", "/api/auth/login", login)["token"]
        created = self._api("POST", "/api/keys", {"name": name})
        return int(created["id"]), str(created["key"])

    # --- faults --------------------------------------------------------------------------

    def kill_gateway(self, index: int) -> None:
        """kill -9 of a replica: its master and both workers at once (a crashed container)."""
        self.gateways[index].kill()

    def kill_engine(self) -> int:
        """kill -9 of the default engine (the supervisor restarts it); its pid."""
        pid = int(self.engine_status()["pid"])
        with contextlib.suppress(ProcessLookupError):
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        return pid

    def slow_engine(self, seconds_per_token: float | None) -> None:
        """The fake engine waits this long between tokens (None: back to normal)."""
        port = self.engine_status()["port"]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/_fault",
            json.dumps({"gap": seconds_per_token}).encode(),
            {"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5):  # noqa: S310 - loopback
            pass
