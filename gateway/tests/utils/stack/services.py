"""The stack's own PostgreSQL, Redis and nginx: child processes with their data in the
stack's directory, never the machine's servers, so a fault may kill, restart or freeze them.

PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user and
the server runs as that user (the process is still our child, in our process group).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import ssl
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.utils.stack.processes import Proc, free_port, http_ok, port_open

REPO = Path(__file__).resolve().parents[4]
SHIPPED_NGINX_CONF = REPO / "deploy" / "nginx" / "gpuchat.conf"


def _postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]  # the newest major version
    on_path = shutil.which(name)
    if on_path is None:
        raise FileNotFoundError(f"PostgreSQL's {name} (apt-get install postgresql)")
    return on_path


def _run_as() -> str | None:
    """The user PostgreSQL runs as: ourselves, unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise RuntimeError("running as root needs a `postgres` user for PostgreSQL") from exc
    return "postgres"


@dataclass
class Postgres:
    """A throwaway cluster in `root` (trust auth on 127.0.0.1 only), database `gpuchat`."""

    root: Path
    port: int = field(default_factory=free_port)
    proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/gpuchat"

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/gpuchat"

    def start(self) -> None:
        user = _run_as()
        data = self.root / "data"
        if not (data / "PG_VERSION").exists():
            self._initdb(data, user)
        argv = [_postgres_bin("postgres"), "-D", str(data), "-p", str(self.port)]
        # Loopback TCP only; the socket directory is ours, not /var/run/postgresql.
        argv += ["-h", "127.0.0.1", "-k", str(self.root), "-c", "fsync=off"]
        argv += ["-c", "max_connections=200", "-c", "full_page_writes=off"]
        self.proc = Proc("postgres", argv, self.root / "postgres.log", user=user).start()
        self.proc.wait_until(self._accepting, 60, "accepting connections")
        self._ensure_database()

    def _initdb(self, data: Path, user: str | None) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if user is not None:
            shutil.chown(self.root, user, user)
        argv = [_postgres_bin("initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]
        out = subprocess.run(
            [*argv, "-E", "UTF8", "--no-sync"],
            capture_output=True,
            text=True,
            timeout=120,
            user=user,
            group=user,
            extra_groups=[] if user else None,
        )
        if out.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")

    def _psql(self, sql: str, database: str = "postgres") -> subprocess.CompletedProcess[str]:
        argv = [_postgres_bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
        return subprocess.run(
            [*argv, "-d", database, "-Atc", sql], capture_output=True, text=True, timeout=30
        )

    def _accepting(self) -> bool:
        return self._psql("SELECT 1").returncode == 0

    def _ensure_database(self) -> None:
        if self._psql("SELECT 1 FROM pg_database WHERE datname = 'gpuchat'").stdout.strip():
            return
        out = self._psql("CREATE DATABASE gpuchat")
        if out.returncode != 0:
            raise RuntimeError(f"CREATE DATABASE failed: {out.stderr}")

    def stop(self) -> None:
        """A fast shutdown (what `pg_ctl stop -m fast` sends), SIGKILL after 20 s."""
        if self.proc is not None:
            self.proc.stop(signal.SIGINT, grace_s=20)

    def restart(self, down_s: float = 0.0) -> float:
        """Stop, stay down `down_s`, start on the same port; the moment it accepts again."""
        self.stop()
        time.sleep(down_s)
        self.start()
        return time.time()


@dataclass
class Redis:
    root: Path
    port: int = field(default_factory=free_port)
    proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        exe = shutil.which("redis-server")
        if exe is None:
            raise FileNotFoundError("redis-server (apt-get install redis-server)")
        argv = [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "no", "--dir", str(self.root), "--daemonize", "no"]
        argv += ["--maxmemory-policy", "noeviction"]  # as docker-compose.yml runs it
        self.proc = Proc("redis", argv, self.root / "redis.log").start()
        self.proc.wait_until(lambda: port_open(self.port), 30, "listening")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop(signal.SIGTERM, grace_s=10)

    def restart(self, down_s: float = 0.0) -> float:
        self.stop()
        time.sleep(down_s)
        self.start()
        return time.time()

    def freeze(self) -> None:
        """SIGSTOP: the port stays open, nothing answers (a stuck server)."""
        if self.proc is not None:
            self.proc.send(signal.SIGSTOP)

    def thaw(self) -> None:
        if self.proc is not None:
            self.proc.send(signal.SIGCONT)


MAIN_CONF = """\
daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    log_format stack '$msec $status $request_time $upstream_addr $upstream_status '
                     '"$request" $request_id';
    access_log {dir}/access.log stack;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
{http}
}}
"""


def shipped_http(gateways: list[int], port: int, redirect_port: int, certs: Path) -> str:
    """deploy/nginx/gpuchat.conf with only its deployment lines templated: the gateway
    replicas' addresses, loopback listen ports (no IPv6) and the certificate paths."""
    text = SHIPPED_NGINX_CONF.read_text()
    servers = "\n    ".join(f"server 127.0.0.1:{p};" for p in gateways)
    for old, new in (
        ("server gateway:8080;", servers),
        ("listen 80 default_server;", f"listen 127.0.0.1:{redirect_port} default_server;"),
        (
            "listen 443 ssl http2 default_server;",
            f"listen 127.0.0.1:{port} ssl http2 default_server;",
        ),
        ("/etc/nginx/certs/", f"{certs}/"),
    ):
        if old not in text:
            raise RuntimeError(f"{SHIPPED_NGINX_CONF} no longer has `{old}`: update {__file__}")
        text = text.replace(old, new)
    return "\n".join(ln for ln in text.splitlines() if not ln.strip().startswith("listen [::]"))


def self_signed_cert(certs: Path) -> None:
    """A P-256 certificate for 127.0.0.1, made once per stack directory."""
    if (certs / "fullchain.pem").exists() and (certs / "privkey.pem").exists():
        return
    certs.mkdir(parents=True, exist_ok=True)
    # fmt: off
    argv = [
        "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", "30", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        "-keyout", str(certs / "privkey.pem"), "-out", str(certs / "fullchain.pem"),
    ]
    # fmt: on
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"openssl could not make a certificate:\n{out.stderr[-2000:]}")


def nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )
    if found is None:
        raise FileNotFoundError("nginx (apt-get install nginx)")
    return found


@dataclass
class Nginx:
    root: Path
    gateways: list[int]
    port: int = field(default_factory=free_port)
    proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def cafile(self) -> Path:
        return self.root / "certs" / "fullchain.pem"

    def ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.cafile))
        context.set_alpn_protocols(["http/1.1"])
        return context

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)  # workers run as an unprivileged user when started by root
        self_signed_cert(self.root / "certs")
        http = shipped_http(self.gateways, self.port, free_port(), self.root / "certs")
        conf = self.root / "nginx.conf"
        conf.write_text(MAIN_CONF.format(dir=self.root, http=http))
        argv = [nginx_binary(), "-p", str(self.root), "-c", str(conf)]
        self.proc = Proc("nginx", argv, self.root / "nginx.log").start()
        context = self.ssl_context()
        self.proc.wait_until(
            lambda: port_open(self.port) and http_ok(f"{self.url}/healthz", context=context),
            60,
            "serving /healthz over TLS",
        )

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop(signal.SIGQUIT, grace_s=10)  # graceful: finish what is in flight
