"""`python -m tests.utils.stack up|down|chaos|soak` (from gateway/): what `make stack`,
`make stack-down`, `make chaos` and `make soak` run. See docs/reliability.md."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from tests.utils.stack.processes import group_pids
from tests.utils.stack.services import REPO
from tests.utils.stack.stack import STATE_FILE, Stack, StackConfig

DEFAULT_ROOT = REPO / "data" / "stack"


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def up(root: Path) -> None:
    """Start the stack, print where it is, serve until Ctrl-C or SIGTERM (make stack-down)."""
    signal.signal(signal.SIGTERM, _interrupt)
    config = StackConfig.from_env(root)
    print(f"starting the stack in {root} (engine: {config.engine}) ...", file=sys.stderr)
    with Stack(config) as stack:
        _, key = stack.new_key("make-stack")
        print(
            f"\n  gpuchat (nginx, TLS): {stack.url}   CA: {stack.nginx.cafile}\n"
            f"  replicas: {', '.join(f'127.0.0.1:{p}' for p in stack.gateway_ports)}\n"
            f"  PostgreSQL: {stack.postgres.dsn}   Redis: {stack.redis.url}\n"
            f"  supervisor: http://127.0.0.1:{stack.supervisor_port}   logs: {stack.logs}\n"
            f"  API key: {key}\n"
            f"  curl --cacert {stack.nginx.cafile} {stack.url}/v1/models "
            f"-H 'Authorization: Bearer {key}'\n\n"
            "  Ctrl-C or `make stack-down` stops everything.\n",
            file=sys.stderr,
        )
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    print("stack stopped", file=sys.stderr)


def down(root: Path) -> None:
    """Stop a stack started by `up`: SIGTERM to its runner, then whatever is left of its
    children's process groups (a runner killed with -9 leaves them behind)."""
    path = root / STATE_FILE
    if not path.exists():
        print("no stack is running (no state file)", file=sys.stderr)
        return
    state = json.loads(path.read_text())
    runner = int(state["runner"])
    with contextlib.suppress(ProcessLookupError):
        os.kill(runner, signal.SIGTERM)
        for _ in range(900):  # its own stop waits for the replicas' and engines' drain
            os.kill(runner, 0)
            time.sleep(0.1)
    for name, pgid in state["children"].items():
        if group_pids(int(pgid)):
            print(f"killing what is left of {name} (process group {pgid})", file=sys.stderr)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(int(pgid), signal.SIGKILL)
    with contextlib.suppress(OSError):
        path.unlink()
    print("stack stopped", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.utils.stack")
    parser.add_argument("command", choices=["up", "down", "chaos", "soak"])
    parser.add_argument("--root", type=Path, default=None, help=f"default: {DEFAULT_ROOT}")
    args, rest = parser.parse_known_args()
    root = (args.root or DEFAULT_ROOT).resolve()
    if args.command in ("chaos", "soak"):
        # A fresh stack of its own beside `make stack`'s: results never depend on old state.
        root = root / args.command if args.root is None else root
        shutil.rmtree(root, ignore_errors=True)
    if args.command == "up":
        up(root)
    elif args.command == "down":
        down(root)
    elif args.command == "chaos":
        from tests.utils.stack import chaos

        chaos.main(root, rest)
    else:
        from tests.utils.stack import soak

        soak.main(root, rest)


if __name__ == "__main__":
    main()
