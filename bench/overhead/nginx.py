"""nginx for the benchmark: plain `proxy_pass` to the upstream (path C), and the shipped
production config in front of the gateway with TLS (path D).

Path D's `http` block is `deploy/nginx/gpuchat.conf` itself, with only what cannot run
here rewritten: the gateway's address, the listen ports (127.0.0.1, free ports, no IPv6)
and the certificate paths (a self-signed P-256 certificate made for the run). Every proxy,
TLS and SSE setting is the one operators deploy, so a change there shows up in the bench.

Both run from a generated main config in the run's temp dir (never a system nginx), with
`access_log off` and `--nginx-workers` worker processes, like the one gateway process.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

from stack import Child, free_port, spawn, tail, wait_http

SHIPPED_CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "gpuchat.conf"

MAIN_CONF = """\
daemon off;
master_process on;
worker_processes {workers};
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
{http}
}}
"""

# Path C: the floor for any proxy, tuned for the bench (huge keep-alive limits).
PLAIN_HTTP = """\
    upstream synth {{
        server 127.0.0.1:{upstream_port};
        keepalive 1024;
        keepalive_requests 1000000;
        keepalive_timeout 300s;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        keepalive_requests 1000000;
        keepalive_timeout 300s;
        location / {{
            proxy_pass http://synth;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 300s;
        }}
    }}
"""


@dataclass
class Nginx:
    child: Child
    base_url: str  # scheme://127.0.0.1:port
    ssl: ssl.SSLContext | None  # trusts the run's certificate; None for plain HTTP


def binary() -> str | None:
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )


def start_plain(workdir: Path, upstream_port: int, workers: str) -> Nginx:
    """Path C: nginx `proxy_pass` straight to the synthetic upstream."""
    port = free_port()
    http = PLAIN_HTTP.format(port=port, upstream_port=upstream_port)
    return _start(workdir / "nginx", http, workers, f"http://127.0.0.1:{port}", "/health", None)


def start_production(workdir: Path, gateway_addr: str, workers: str) -> Nginx:
    """Path D: the shipped deploy/nginx/gpuchat.conf, TLS on, in front of the gateway."""
    ndir = workdir / "nginx-tls"
    certs = ndir / "certs"
    certs.mkdir(parents=True)
    _self_signed_cert(certs)
    port = free_port()
    http = production_http(gateway_addr, port, free_port(), certs)
    context = ssl.create_default_context(cafile=certs / "fullchain.pem")
    context.set_alpn_protocols(["http/1.1"])  # what aiohttp's own contexts offer
    return _start(ndir, http, workers, f"https://127.0.0.1:{port}", "/healthz", context)


def production_http(gateway_addr: str, port: int, redirect_port: int, certs: Path) -> str:
    """The shipped config with its deployment-specific lines pointed at this run."""
    text = SHIPPED_CONF.read_text()
    for old, new in (
        ("server gateway:8080;", f"server {gateway_addr};"),
        ("listen 80 default_server;", f"listen 127.0.0.1:{redirect_port} default_server;"),
        (
            "listen 443 ssl http2 default_server;",
            f"listen 127.0.0.1:{port} ssl http2 default_server;",
        ),
        ("/etc/nginx/certs/", f"{certs}/"),
    ):
        if old not in text:
            raise RuntimeError(
                f"{SHIPPED_CONF} no longer has `{old}`: update bench/overhead/nginx.py"
            )
        text = text.replace(old, new)
    return "\n".join(ln for ln in text.splitlines() if not ln.strip().startswith("listen [::]"))


def _self_signed_cert(certs: Path) -> None:
    """A throwaway P-256 certificate for 127.0.0.1 (what ACME clients issue by default)."""
    if shutil.which("openssl") is None:
        raise FileNotFoundError("openssl")
    # fmt: off
    cmd = [
        "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        "-keyout", str(certs / "privkey.pem"), "-out", str(certs / "fullchain.pem"),
    ]
    # fmt: on
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"openssl could not make a certificate:\n{out.stderr[-2000:]}")


def _start(
    ndir: Path, http: str, workers: str, base_url: str, health: str, context: ssl.SSLContext | None
) -> Nginx:
    exe = binary()
    if exe is None:
        raise FileNotFoundError("nginx")
    ndir.mkdir(exist_ok=True)
    ndir.chmod(0o755)  # workers run as an unprivileged user when started by root
    conf = ndir / "nginx.conf"
    conf.write_text(MAIN_CONF.format(dir=ndir, workers=workers, http=http))
    child = spawn(ndir.name, [exe, "-p", str(ndir), "-c", str(conf)], ndir.parent)
    if not wait_http(base_url + health, 60, child.proc, context):
        child.stop()
        raise RuntimeError(
            f"{ndir.name} did not start:\n{tail(child.log)}\n{tail(ndir / 'error.log')}"
        )
    return Nginx(child, base_url, context)
