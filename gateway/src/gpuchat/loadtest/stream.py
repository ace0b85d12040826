"""One streamed chat completion, timed from the client's side.

TTFT: from sending the request to the first chunk whose delta carries text (`content`, or
`reasoning_content` from reasoning models). ITL: every gap between consecutive text chunks.
TPOT: (e2e - TTFT) / (output tokens - 1), the tokens from the usage chunk when the server
sends one, else the number of text chunks. A request fails on a non-200 status, an
in-stream error frame, a stream that ends without `data: [DONE]`, a connection error or
the timeout; the failure is kept as one short line, never raised.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

MAX_ERROR_CHARS = 160


@dataclass
class Sample:
    ok: bool
    start_s: float  # from the step's start
    e2e_s: float
    ttft_s: float | None = None
    output_tokens: int = 0
    prompt_tokens: int | None = None
    tokens_from_usage: bool = False
    gaps_s: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def tpot_s(self) -> float | None:
        if self.ttft_s is None or self.output_tokens < 2:
            return None
        return (self.e2e_s - self.ttft_s) / (self.output_tokens - 1)

    def record(self) -> dict[str, Any]:
        """The compact form kept in the JSON result (ITL gaps only as a count)."""
        return {
            "ok": self.ok,
            "start_s": round(self.start_s, 4),
            "e2e_ms": round(self.e2e_s * 1000, 2),
            "ttft_ms": None if self.ttft_s is None else round(self.ttft_s * 1000, 2),
            "output_tokens": self.output_tokens,
            "chunks": len(self.gaps_s) + (self.ttft_s is not None),
            "error": self.error,
        }


class _Failed(Exception):
    """A request that failed in a way worth counting, with its one-line reason."""


@dataclass
class _Reading:
    t0: float
    chunk_times: list[float] = field(default_factory=list)
    usage: dict[str, Any] | None = None

    def frame(self, data: bytes) -> None:
        try:
            frame = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise _Failed(f"malformed stream frame: {data[:60]!r}") from exc
        if not isinstance(frame, dict):
            raise _Failed(f"malformed stream frame: {data[:60]!r}")
        if frame.get("error") is not None:
            raise _Failed(f"error frame: {_error_message(frame)}")
        if isinstance(frame.get("usage"), dict):
            self.usage = frame["usage"]
        for choice in frame.get("choices") or ():
            delta = choice.get("delta") or {}
            if delta.get("content") or delta.get("reasoning_content"):
                self.chunk_times.append(time.perf_counter())
                return


async def stream_chat(
    http: aiohttp.ClientSession,
    url: str,
    body: bytes,
    *,
    headers: dict[str, str],
    timeout_s: float,
    step_t0: float,
) -> Sample:
    """POST `body` (a streaming request) to `url` and time it; never raises for the server."""
    t0 = time.perf_counter()
    reading = _Reading(t0)
    try:
        async with asyncio.timeout(timeout_s):
            async with http.post(url, data=body, headers=headers) as response:
                if response.status != 200:
                    raise _Failed(f"HTTP {response.status}: {await _body_message(response)}")
                if not await _read_stream(response, reading):
                    raise _Failed("stream ended before data: [DONE]")
    except _Failed as exc:
        return _failure(reading, step_t0, str(exc))
    except TimeoutError:
        return _failure(reading, step_t0, f"timeout after {timeout_s:g}s")
    except (aiohttp.ClientError, OSError, ValueError) as exc:  # ValueError: a line over 64 KiB
        return _failure(reading, step_t0, f"{type(exc).__name__}: {exc}")
    return _success(reading, step_t0)


async def _read_stream(response: aiohttp.ClientResponse, reading: _Reading) -> bool:
    """Read SSE lines to `data: [DONE]` (True) or the end of the body (False)."""
    async for raw in response.content:
        line = raw.strip()
        if not line.startswith(b"data:"):
            continue  # comments, event names, blank separators
        data = line[5:].strip()
        if data == b"[DONE]":
            return True
        reading.frame(data)
    return False


def _success(reading: _Reading, step_t0: float) -> Sample:
    end = time.perf_counter()
    times = reading.chunk_times
    usage = reading.usage or {}
    completion = usage.get("completion_tokens")
    from_usage = isinstance(completion, int)
    prompt = usage.get("prompt_tokens")
    return Sample(
        ok=True,
        start_s=reading.t0 - step_t0,
        e2e_s=end - reading.t0,
        ttft_s=times[0] - reading.t0 if times else None,
        output_tokens=completion if isinstance(completion, int) else len(times),
        prompt_tokens=prompt if isinstance(prompt, int) else None,
        tokens_from_usage=from_usage,
        gaps_s=[b - a for a, b in itertools.pairwise(times)],
    )


def _failure(reading: _Reading, step_t0: float, error: str) -> Sample:
    end = time.perf_counter()
    return Sample(
        ok=False,
        start_s=reading.t0 - step_t0,
        e2e_s=end - reading.t0,
        error=" ".join(error.split())[:MAX_ERROR_CHARS],
    )


async def _body_message(response: aiohttp.ClientResponse) -> str:
    raw = await response.read()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw[:MAX_ERROR_CHARS].decode(errors="replace") or response.reason or ""
    return _error_message(body) if isinstance(body, dict) else str(body)


def _error_message(body: dict[str, Any]) -> str:
    """OpenAI's `{"error": {"message": ...}}`, or a bare `{"error": "..."}` / `{"detail": ...}`."""
    error = body.get("error", body.get("detail"))
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error)
