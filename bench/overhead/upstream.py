"""A synthetic OpenAI-compatible upstream for the overhead benchmark.

It answers `POST /v1/chat/completions` (stream and non-stream), `GET /v1/models` and
`GET /health` with fixed, pre-encoded bytes and a configurable pace, so that whatever sits
between it and the load generator is what the benchmark measures.

Why raw asyncio and not aiohttp.web: at 50-200 concurrent streams of 64 tokens the upstream
writes tens of thousands of frames a second on the same two cores as the gateway and the
load generator. A hand-rolled HTTP/1.1 protocol (keep-alive, Content-Length request bodies,
chunked responses) costs a few microseconds a frame; a web framework costs several times
that and would eat into the very CPU the gateway needs.

    python bench/overhead/upstream.py --port 9100 --tokens 64 --gap-ms 5
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import signal
import socket
import time
from dataclasses import dataclass
from typing import cast

import orjson

# The load generator counts this marker to check that every token arrived.
TOKEN_TEXT = " tk"  # noqa: S105 - not a secret
MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Pace:
    tokens: int
    gap_s: float
    first_token_delay_s: float


def _chunk(payload: bytes) -> bytes:
    """One HTTP/1.1 chunked-encoding chunk."""
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def _sse(obj: object) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def _response_head(status: str, content_type: bytes, length: int | None) -> bytes:
    framing = b"Transfer-Encoding: chunked" if length is None else b"Content-Length: %d" % length
    return (
        b"HTTP/1.1 "
        + status.encode()
        + b"\r\nContent-Type: "
        + content_type
        + b"\r\n"
        + framing
        + b"\r\nCache-Control: no-cache\r\nConnection: keep-alive\r\n\r\n"
    )


def _json_response(status: str, obj: object) -> bytes:
    body = orjson.dumps(obj)
    return _response_head(status, b"application/json", len(body)) + body


HEALTH = _json_response("200 OK", {"status": "ok"})
NOT_FOUND = _json_response(
    "404 Not Found", {"error": {"message": "not found", "type": "not_found"}}
)
BAD_REQUEST = _json_response(
    "400 Bad Request", {"error": {"message": "bad request", "type": "invalid_request_error"}}
)
STREAM_HEAD = _response_head("200 OK", b"text/event-stream", None)
LAST_CHUNK = b"0\r\n\r\n"


class StreamFrames:
    """Every frame of one stream, built once per request (only the id and model vary)."""

    def __init__(self, req_id: str, model: str, created: int, n_tokens: int) -> None:
        base = {
            "id": req_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": None,
        }

        def frame(delta: dict[str, str], finish: str | None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return _chunk(_sse({**base, "choices": [choice]}))

        self.role = frame({"role": "assistant", "content": ""}, None)
        self.token = frame({"content": TOKEN_TEXT}, None)
        self.finish = frame({}, "length")
        self.usage = _chunk(
            _sse(
                {
                    **base,
                    "choices": [],
                    "usage": {
                        "prompt_tokens": 12,
                        "completion_tokens": n_tokens,
                        "total_tokens": 12 + n_tokens,
                    },
                }
            )
        )
        self.done = _chunk(b"data: [DONE]\n\n") + LAST_CHUNK


class UpstreamProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive; one request at a time per connection (no pipelining)."""

    ids = itertools.count(1)

    def __init__(self, pace: Pace) -> None:
        self.pace = pace
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.task: asyncio.Task[None] | None = None
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, exc: Exception | None) -> None:
        # A client that goes away mid-stream aborts the generation, as vLLM does.
        if self.task is not None:
            self.task.cancel()
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self._try_request()

    def _try_request(self) -> None:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buf) > MAX_HEAD_BYTES:
                self._close()
            return
        head = bytes(self.buf[:end]).decode("latin-1")
        lines = head.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            self._close()
            return
        method, target = parts[0], parts[1]
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            lname = name.strip().lower()
            if lname == "content-length":
                length = int(value.strip())
            elif lname == "transfer-encoding":
                self._close()  # chunked request bodies are not needed by any client we bench
                return
        if length > MAX_BODY_BYTES:
            self._close()
            return
        total = end + 4 + length
        if len(self.buf) < total:
            return
        body = bytes(self.buf[end + 4 : total])
        del self.buf[:total]
        self._dispatch(method, target.split("?", 1)[0], body)

    def _dispatch(self, method: str, path: str, body: bytes) -> None:
        if method == "POST" and path == "/v1/chat/completions":
            self._chat(body)
        elif method == "GET" and path in ("/health", "/v1/health", "/healthz"):
            self._write_and_next(HEALTH)
        elif method == "GET" and path == "/v1/models":
            self._write_and_next(
                _json_response(
                    "200 OK",
                    {
                        "object": "list",
                        "data": [
                            {"id": "synth", "object": "model", "created": 0, "owned_by": "bench"}
                        ],
                    },
                )
            )
        else:
            self._write_and_next(NOT_FOUND)

    def _chat(self, body: bytes) -> None:
        try:
            req = orjson.loads(body)
            model = str(req.get("model") or "synth")
            n = self.pace.tokens
            max_tokens = req.get("max_completion_tokens") or req.get("max_tokens")
            if isinstance(max_tokens, int) and 0 < max_tokens < n:
                n = max_tokens
            stream = bool(req.get("stream"))
            opts = req.get("stream_options") or {}
            include_usage = bool(opts.get("include_usage"))
        except (orjson.JSONDecodeError, AttributeError, TypeError):
            self._write_and_next(BAD_REQUEST)
            return
        req_id = f"chatcmpl-{next(self.ids):012x}"
        if stream:
            self.busy = True
            frames = StreamFrames(req_id, model, int(time.time()), n)
            self.task = asyncio.get_running_loop().create_task(
                self._stream(frames, n, include_usage)
            )
        else:
            self.busy = True
            self.task = asyncio.get_running_loop().create_task(self._complete(req_id, model, n))

    async def _stream(self, frames: StreamFrames, n: int, include_usage: bool) -> None:
        pace = self.pace
        t = self.transport
        if t is None:
            return
        t.write(STREAM_HEAD + frames.role)
        if pace.first_token_delay_s > 0:
            await asyncio.sleep(pace.first_token_delay_s)
        token = frames.token
        for i in range(n):
            if i and pace.gap_s > 0:
                await asyncio.sleep(pace.gap_s)
            t = self.transport
            if t is None:
                return
            t.write(token)
        tail = frames.finish + (frames.usage if include_usage else b"") + frames.done
        t.write(tail)
        self._next()

    async def _complete(self, req_id: str, model: str, n: int) -> None:
        await asyncio.sleep(self.pace.first_token_delay_s + self.pace.gap_s * max(n - 1, 0))
        self._write_and_next(
            _json_response(
                "200 OK",
                {
                    "id": req_id,
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": TOKEN_TEXT * n},
                            "logprobs": None,
                            "finish_reason": "length",
                        }
                    ],
                    "usage": {"prompt_tokens": 12, "completion_tokens": n, "total_tokens": 12 + n},
                },
            )
        )

    def _write_and_next(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)
        self._next()

    def _next(self) -> None:
        self.busy = False
        self.task = None
        if self.buf and self.transport is not None:
            self._try_request()

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def serve(host: str, port: int, pace: Pace) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: UpstreamProtocol(pace), host, port, backlog=4096, reuse_address=True
    )
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(
        f"upstream listening on http://{host}:{port}/v1 "
        f"tokens={pace.tokens} gap_ms={pace.gap_s * 1e3:g} "
        f"first_token_delay_ms={pace.first_token_delay_s * 1e3:g}",
        flush=True,
    )
    async with server:
        await stop.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9100)
    ap.add_argument("--tokens", type=int, default=64, help="content chunks per stream")
    ap.add_argument("--gap-ms", type=float, default=5.0, help="pause between tokens")
    ap.add_argument(
        "--first-token-delay-ms",
        type=float,
        default=0.0,
        help="pause before the first content token (simulated prefill)",
    )
    args = ap.parse_args()
    pace = Pace(args.tokens, args.gap_ms / 1e3, args.first_token_delay_ms / 1e3)
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args.host, args.port, pace))
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(serve(args.host, args.port, pace))


if __name__ == "__main__":
    main()
