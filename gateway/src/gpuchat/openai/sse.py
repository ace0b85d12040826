"""Server-sent event frames: encode ours, split upstream bytes into complete frames."""

from __future__ import annotations

from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"
KEEPALIVE = b": keep-alive\n\n"
# Every stream we send (the relay, the queue, the live view, engine logs) says something at
# least this often, so no proxy or browser takes a quiet one for a dead one.
KEEPALIVE_SECONDS = 15.0
SSE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}


def data_frame(payload: Any) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def comment_frame(text: str) -> bytes:
    return b": " + text.encode() + b"\n\n"


class FrameSplitter:
    """Accumulates bytes and hands back complete frames, delimiter included.

    Upstream chunks arrive cut anywhere; the relay forwards and inspects whole frames only.
    Both `\\n\\n` and `\\r\\n\\r\\n` end a frame (the SSE spec allows either).
    """

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        one_frame = len(chunk) > 2 and chunk.find(b"\n\n") == len(chunk) - 2
        if one_frame and not self._buffer and b"\r" not in chunk:
            return [chunk]  # the usual case: one engine write, one whole frame
        data = self._buffer + chunk if self._buffer else chunk
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n")
        end = data.rfind(b"\n\n")
        if end < 0:
            self._buffer = data
            return []
        self._buffer = data[end + 2 :]
        return [frame + b"\n\n" for frame in data[:end].split(b"\n\n") if frame]

    @property
    def pending(self) -> bytes:
        return self._buffer
