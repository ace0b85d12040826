"""A tiny engine for the supervisor tests (stdlib only), run as a `command` profile.

    python fake_engine.py --port N --mode ok|exit|unhealthy [--grandchild PIDFILE]

ok: /health 200 and /v1/models; exit: prints an error and exits 3 at once;
unhealthy: /health answers 503 forever. --grandchild starts a `sleep` child first and
writes its pid, so a test can check that stopping the engine stops its whole group.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class Handler(BaseHTTPRequestHandler):
    healthy = True

    def do_GET(self) -> None:
        if self.path == "/health":
            self._reply(
                200 if self.healthy else 503, {"status": "ok" if self.healthy else "loading"}
            )
        elif self.path == "/v1/models":
            self._reply(200, {"object": "list", "data": [{"id": "fake-engine-model"}]})
        else:
            self._reply(404, {"error": "not found"})

    def _reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        print(f"request: {format % args}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=["ok", "exit", "unhealthy"], default="ok")
    parser.add_argument("--grandchild", type=Path, default=None)
    args = parser.parse_args()
    print(f"fake engine booting in mode {args.mode}", flush=True)
    if args.grandchild is not None:
        sleeper = subprocess.Popen(["sleep", "300"])
        args.grandchild.write_text(str(sleeper.pid))
    if args.mode == "exit":
        print("fatal: cannot load model weights", file=sys.stderr, flush=True)
        return 3
    Handler.healthy = args.mode == "ok"
    if not Handler.healthy:
        print("loading model, please wait", flush=True)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
