"""llama.cpp's HTTP server, embedded by the xllamacpp wheel, as a child process.

    python -m gpuchat.engines.llamacpp_server --model PATH --port N [--ctx N --parallel N
        --threads N --alias NAME --chat-template FILE|NAME --parent-pid PID]

The wheel has no CLI: `xllamacpp.Server(params)` serves HTTP from its own threads, so the
main thread only waits for SIGTERM/SIGINT. Binds 127.0.0.1 only (the gateway is the only
client), continuous batching and prompt cache on, one KV pool shared by all slots.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gpuchat.engines.llamacpp_server")
    parser.add_argument("--model", required=True, type=Path)
    parser.add_argument("--port", required=True, type=int)
    parser.add_argument("--ctx", type=int, default=4096)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--alias", default=None)
    parser.add_argument("--chat-template", default=None, help="a template file or built-in name")
    parser.add_argument("--parent-pid", type=int, default=None)
    return parser.parse_args(argv)


def _die_with_parent(parent_pid: int) -> None:
    """Ask Linux to SIGTERM us when the gateway dies, even by SIGKILL (no orphans)."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        sys.exit(0)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.parent_pid is not None:
        _die_with_parent(args.parent_pid)
    # Block the stop signals before the server threads start, so they inherit the mask
    # and only the main thread's sigwait() receives them.
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)

    import xllamacpp  # imported late: a 100 MB native library, not needed for --help

    params = xllamacpp.CommonParams()
    params.model.path = str(args.model)
    params.hostnames = ["127.0.0.1"]
    params.port = args.port
    params.n_ctx = args.ctx
    params.n_parallel = args.parallel
    # cpp-httplib holds a thread per open connection, idle keep-alive ones included (5 s);
    # llama.cpp's default (parallel + 2) let new requests wait for a thread under load.
    params.n_threads_http = max(16, 4 * args.parallel)
    params.kv_unified = True  # every slot may use the whole context, not ctx/parallel
    params.cont_batching = True
    params.cache_prompt = True
    params.endpoint_metrics = True
    params.ui = False
    if args.threads:
        params.cpuparams.n_threads = args.threads
        params.cpuparams_batch.n_threads = args.threads
    if args.alias:
        params.model_alias = {args.alias}
    if args.chat_template:
        template = Path(args.chat_template)
        params.chat_template = (
            template.read_text(encoding="utf-8") if template.is_file() else args.chat_template
        )

    server = xllamacpp.Server(params)
    print(f"gpuchat: llama.cpp serving {args.model} on port {args.port}", flush=True)
    received = signal.sigwait(stop_signals)
    print(f"gpuchat: {signal.Signals(received).name} received, stopping", flush=True)
    del server  # stops the HTTP server and frees the model
    return 0


if __name__ == "__main__":
    sys.exit(main())
