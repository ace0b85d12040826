"""Read SSE answers the way a client would."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class StreamResult:
    status: int
    headers: httpx.Headers
    frames: list[str] = field(default_factory=list)

    @property
    def events(self) -> list[dict[str, Any]]:
        return [json.loads(f[6:]) for f in self.frames if f.startswith("data: {")]

    @property
    def text(self) -> str:
        return "".join(
            (choice.get("delta") or {}).get("content") or ""
            for event in self.events
            for choice in event.get("choices", [])
        )

    @property
    def done(self) -> bool:
        return "data: [DONE]" in self.frames

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [e for e in self.events if "error" in e]

    @property
    def usage_chunks(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("usage")]


def chat_body(
    content: str, *, stream: bool = True, model: str = "fake-model", **extra: Any
) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": content}],
        "stream": stream,
        **extra,
    }


async def stream_chat(
    client: httpx.AsyncClient, body: dict[str, Any], **kwargs: Any
) -> StreamResult:
    async with client.stream("POST", "/v1/chat/completions", json=body, **kwargs) as response:
        result = StreamResult(response.status_code, response.headers)
        buffer = ""
        async for text in response.aiter_text():
            buffer += text
            while "\n\n" in buffer:
                frame, buffer = buffer.split("\n\n", 1)
                result.frames.append(frame)
    return result
