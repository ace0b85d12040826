"""Drive the web chat (`POST /api/chat`) the way the browser does and read its events."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class ChatEvents:
    status: int
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    body: dict[str, Any] | None = None  # the error envelope when the stream never started

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [data for name, data in self.events if name == kind]

    def one(self, kind: str) -> dict[str, Any]:
        found = self.of(kind)
        assert len(found) == 1, (kind, self.events)
        return found[0]

    @property
    def kinds(self) -> list[str]:
        return [name for name, _ in self.events]

    @property
    def text(self) -> str:
        return "".join(d["text"] for d in self.of("delta"))


def parse_frames(raw: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for frame in raw.replace("\r\n", "\n").split("\n\n"):
        kind, data = "message", None
        for line in frame.split("\n"):
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
        if data is not None:
            events.append((kind, data))
    return events


async def chat(
    client: httpx.AsyncClient,
    body: dict[str, Any],
    *,
    stop_after_deltas: int | None = None,
    on_events: Callable[[ChatEvents], Awaitable[None]] | None = None,
) -> ChatEvents:
    """Send one turn. With `stop_after_deltas`, hang up after that many delta events;
    `on_events` runs after each batch of events arrives (to act while it streams)."""
    async with client.stream("POST", "/api/chat", json=body) as response:
        result = ChatEvents(response.status_code)
        if response.status_code != 200:
            result.body = json.loads(await response.aread())
            return result
        buffer = ""
        async for text in response.aiter_text():
            buffer += text
            *frames, buffer = buffer.split("\n\n")
            result.events.extend(parse_frames("\n\n".join(frames)))
            if on_events is not None:
                await on_events(result)
            if stop_after_deltas is not None and len(result.of("delta")) >= stop_after_deltas:
                return result
    return result
