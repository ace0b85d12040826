"""What the relay reads in the engine's SSE frames: the first token, usage, errors, the end.

Only what must be known is parsed: a cheap byte search decides, and a frame is decoded as
JSON only for the usage numbers, an error, or the text the web chat keeps.
"""

from __future__ import annotations

import re
import time
from typing import Any

import orjson

from gpuchat.core.errors import error_body
from gpuchat.openai import sse
from gpuchat.services.relay.context import RelayContext

# A token of the answer or of a reasoning model's thinking (vLLM's `reasoning`, formerly
# `reasoning_content`): either counts for the first token.
_CONTENT = re.compile(rb'"(?:content|reasoning|reasoning_content)":\s*"(?!")')
_USAGE = re.compile(rb'"usage":\s*\{')


def observe(frames: list[bytes], ctx: RelayContext) -> bytes:
    """Note what the frames say; return the bytes to forward."""
    keep: list[bytes] = []
    for frame in frames:
        if frame == sse.DONE:
            ctx.done = True
            keep.append(frame)
            break
        if frame.startswith(b'data: {"error"'):
            keep.append(_upstream_error_frame(frame, ctx))
            break
        if _CONTENT.search(frame):
            ctx.content_chunks += 1
            if ctx.first_token_at is None:
                ctx.first_token_at = time.monotonic()
            if ctx.collect_text:
                text, thought = _delta_texts(frame)
                ctx.text.append(text)
                if thought:
                    ctx.reasoning.append(thought)
        if b'"usage"' in frame and _USAGE.search(frame):
            frame = _take_usage(frame, ctx)
        if frame:
            keep.append(frame)
    return b"".join(keep)


def _take_usage(frame: bytes, ctx: RelayContext) -> bytes:
    """Record the usage numbers; drop or rewrite the frame when the client did not ask."""
    try:
        payload = orjson.loads(frame[5:])
    except orjson.JSONDecodeError:
        return frame
    usage = payload.get("usage") or {}
    ctx.input_tokens = usage.get("prompt_tokens", ctx.input_tokens)
    ctx.output_tokens = usage.get("completion_tokens", ctx.output_tokens)
    if ctx.wants_usage:
        return frame
    if not payload.get("choices"):
        return b""
    payload.pop("usage", None)
    return sse.data_frame(payload)


def _delta_texts(frame: bytes) -> tuple[str, str]:
    """(answer text, thinking text) of one chunk."""
    try:
        payload = orjson.loads(frame[5:])
        delta = payload["choices"][0]["delta"]
        thought = delta.get("reasoning") or delta.get("reasoning_content") or ""
        return str(delta.get("content") or ""), str(thought)
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, AttributeError):
        return "", ""


def _upstream_error_frame(frame: bytes, ctx: RelayContext) -> bytes:
    try:
        message = error_message(orjson.loads(frame[5:]))
    except orjson.JSONDecodeError:
        message = None
    ctx.fail(502, "upstream_error")
    return sse.data_frame(
        error_body(
            message or "The model server reported an error",
            502,
            code="upstream_error",
            source="upstream",
        )
    )


def error_frame(status: int, message: str, code: str) -> bytes:
    return sse.data_frame(error_body(message, status, code=code))


def error_message(payload: Any) -> str | None:
    if isinstance(payload, dict):
        error = payload.get("error", payload)
        message = error.get("message") if isinstance(error, dict) else None
        if isinstance(message, str):
            return message[:2000]
        if isinstance(error, str):
            return error[:2000]
    return None
