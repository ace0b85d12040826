"""A finished request leaves nothing for the garbage collector: no reference cycle.

One cycle per request (a cancelled watcher task's traceback, a closure kept on a lease, the
ASGI `send` kept in the scope) kept the whole request's objects alive until a full
collection, which then froze every open stream for tens of milliseconds
(docs/benchmarks.md). Freed by reference counting, they cost nothing later.
"""

from __future__ import annotations

import asyncio
import gc
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from types import CodeType, FrameType, FunctionType

from tests.utils.chat import chat
from tests.utils.gateway import RunningGateway
from tests.utils.streams import chat_body, stream_chat

# The request's own objects. Not the engine health probes': one failing in the background
# (the test profiles' unreachable engine) leaves a cycle inside aiohttp's connection error,
# which holds the probe's frames (gpuchat/engines/), once per probe, not per request.
SERVER_PACKAGES = ("gpuchat", "uvicorn", "starlette", "fastapi")
BACKGROUND = "/gpuchat/engines/"


def _owner(obj: object) -> str:
    """Where an object comes from: its type's module, or its code's file for frames etc."""
    code: CodeType | None = None
    if isinstance(obj, FrameType):
        code = obj.f_code
    elif isinstance(obj, FunctionType):
        code = obj.__code__
    elif hasattr(obj, "cr_code"):
        code = obj.cr_code
    if code is not None:
        return f"{code.co_filename}:{code.co_qualname}"
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


@contextmanager
def cyclic_garbage() -> Iterator[Counter[str]]:
    """What became unreachable only through reference cycles inside the block (the
    server's objects only: the test client's own are not the product's)."""
    found: Counter[str] = Counter()
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield found
        gc.collect()
    finally:
        gc.set_debug(0)
        for obj in gc.garbage:
            owner = _owner(obj)
            ours = any(
                f"/{pkg}/" in owner or owner.startswith(f"{pkg}.") for pkg in SERVER_PACKAGES
            )
            if ours and BACKGROUND not in owner:
                found[owner] += 1
        gc.garbage.clear()


async def test_streamed_stopped_and_plain_requests_leave_no_reference_cycles(
    gateway: RunningGateway,
) -> None:
    await gateway.create_user("collector@example.com")
    async with gateway.client() as program, gateway.login("collector@example.com") as browser:
        await stream_chat(program, chat_body("warm up"))  # first-use caches are not garbage
        await chat(browser, {"content": "warm up"})
        await gateway.state.answers.flush()
        with cyclic_garbage() as garbage:
            turn = await chat(browser, {"content": "and in the web chat"})
            assert turn.one("done")["status"] == "complete"
            for n in range(3):
                result = await stream_chat(program, chat_body(f"hello {n}"))
                assert result.done
            plain = await program.post("/v1/chat/completions", json=chat_body("hi", stream=False))
            assert plain.status_code == 200
            assert (await program.get("/v1/models")).status_code == 200
            # A client that leaves mid-stream.
            body = chat_body("!tokens 50 !gap 0.05")
            async with program.stream("POST", "/v1/chat/completions", json=body) as response:
                async for _ in response.aiter_bytes():
                    break
            await asyncio.sleep(0.3)  # the gateway notices and ends the request
            await gateway.state.usage.flush()
            await gateway.state.answers.flush()
    assert not garbage, f"left in reference cycles: {garbage.most_common(10)}"
