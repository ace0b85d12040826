"""Password hashing: bounded threads, and a fast refusal beyond a small waiting room."""

from __future__ import annotations

import asyncio
import threading

import pytest

from gpuchat.core.security import Hashing, HashingBusy


async def test_hashing_refuses_at_once_beyond_its_waiting_room() -> None:
    hashing = Hashing(threads=1, waiting=1)
    release = threading.Event()

    def slow(_: str) -> str:
        release.wait(10)
        return "hashed"

    running = asyncio.ensure_future(hashing.run(slow, "a"))
    waiting = asyncio.ensure_future(hashing.run(slow, "b"))
    await asyncio.sleep(0)  # both admitted
    with pytest.raises(HashingBusy) as refused:
        await hashing.run(slow, "c")
    assert refused.value.status == 429 and refused.value.retry_after == 1
    release.set()
    assert await asyncio.gather(running, waiting) == ["hashed", "hashed"]
    assert await hashing.run(lambda _: "again", "d") == "again"  # room again
