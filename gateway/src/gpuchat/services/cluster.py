"""Every gateway process at once: the workers of one replica and the replicas beside it.

A stream lives in the process that relays it, but the admin's live view, the admin's stop
button and a user's stop button (another tab) land on any process. `Cluster.ask` puts one
question to every process and gathers the answers:

- Without Redis there is one process: the question is answered here.
- With Redis, the question is also published on one channel that every process listens
  to; each answers on a list named in the question, and the asker waits for as many
  answers as PUBLISH says there were listeners, for at most `ASK_TIMEOUT_S`. An answer that
  comes late is left out and the result says so (`complete`). When Redis is away the local
  answer stands alone, and the question costs one short timeout, then nothing for
  `OPEN_SECONDS` (the same pattern as the shared engine slots).

Questions are few (an admin's live view asks once a second, a stop once) and small; the
streaming path never talks to Redis for this.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import structlog

log = structlog.get_logger(__name__)

ASK_TIMEOUT_S: Final = 1.0
REDIS_TIMEOUT_S: Final = 0.25
OPEN_SECONDS: Final = 5.0
REPLY_TTL_S: Final = 10

Handler = Callable[[dict[str, Any]], Any | Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Answers:
    values: list[Any]  # this process's first
    complete: bool  # every process that heard the question answered in time


def process_name() -> str:
    """How the admin sees a process: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Cluster:
    def __init__(self, redis_url: str | None, handlers: Mapping[str, Handler]) -> None:
        self._handlers = dict(handlers)
        self._id = secrets.token_hex(8)
        self._redis: Any = None
        self._listener: asyncio.Task[None] | None = None
        self._listening = False
        self._open_until = 0.0
        self._answering: set[asyncio.Task[None]] = set()
        if redis_url:
            # Imported here: the redis package costs a gateway without Redis ~25 MiB.
            from redis import RedisError
            from redis.asyncio import Redis

            self._errors: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)
            # Reads wait up to a whole question (BLPOP); every call has its own deadline.
            self._redis = Redis.from_url(
                redis_url,
                socket_timeout=ASK_TIMEOUT_S + 1,
                socket_connect_timeout=REDIS_TIMEOUT_S,
            )
            db = self._redis.connection_pool.connection_kwargs.get("db", 0)
            # Pub/Sub channels are not per database: the index keeps two deployments (or
            # two test runs) on one Redis apart.
            self._channel = f"gpuchat:{db}:cluster"
            # The listener blocks on its socket between messages: no read timeout there.
            self._subscriber = Redis.from_url(redis_url, socket_connect_timeout=REDIS_TIMEOUT_S)

    async def start(self) -> None:
        if self._redis is not None:
            self._listener = asyncio.create_task(self._listen(), name="cluster-listener")

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._answering:
            await asyncio.wait(self._answering, timeout=1)
        if self._redis is not None:
            await self._redis.aclose()
            await self._subscriber.aclose()

    async def ask(self, op: str, args: dict[str, Any], *, first: bool = False) -> Answers:
        """`op`'s answer from every process, this one's first. `first`: a true answer here
        is enough (a stop that found its stream in this process asks nobody else)."""
        local = await _call(self._handlers[op], args)
        if self._redis is None or time.monotonic() < self._open_until or (first and local):
            return Answers([local], complete=self._redis is None or bool(first and local))
        reply = f"{self._channel}:reply:{secrets.token_hex(8)}"
        message = json.dumps({"op": op, "args": args, "reply": reply, "from": self._id})
        values = [local]
        try:
            async with asyncio.timeout(REDIS_TIMEOUT_S * 2):
                listeners = await self._redis.publish(self._channel, message)
            expected = listeners - (1 if self._listening else 0)
            deadline = time.monotonic() + ASK_TIMEOUT_S
            while len(values) - 1 < expected:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                async with asyncio.timeout(left + REDIS_TIMEOUT_S):
                    popped = await self._redis.blpop([reply], timeout=max(left, 0.01))
                if popped is None:
                    break
                values.append(json.loads(popped[1]))
        except self._errors as exc:
            self._trip(exc)
            return Answers(values, complete=False)
        return Answers(values, complete=len(values) - 1 >= expected)

    async def _listen(self) -> None:
        while True:
            try:
                async with self._subscriber.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    self._listening = True
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._answer(message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: listen again once it is back
                if self._listening:
                    log.warning("cluster_listener_lost", error=type(exc).__name__)
                self._listening = False
                await asyncio.sleep(1)

    def _answer(self, data: bytes) -> None:
        try:
            question = json.loads(data)
            if question["from"] == self._id:
                return  # answered locally by the asker
            handler = self._handlers[question["op"]]
            args, reply = dict(question["args"]), str(question["reply"])
        except (ValueError, KeyError, TypeError):
            log.warning("cluster_question_ignored")
            return
        task = asyncio.create_task(self._reply(handler, args, reply))
        self._answering.add(task)
        task.add_done_callback(self._answering.discard)

    async def _reply(self, handler: Handler, args: dict[str, Any], reply: str) -> None:
        value = await _call(handler, args)
        try:
            async with (
                asyncio.timeout(REDIS_TIMEOUT_S * 2),
                self._redis.pipeline(transaction=False) as pipe,
            ):
                pipe.rpush(reply, json.dumps(value))
                pipe.expire(reply, REPLY_TTL_S)
                await pipe.execute()
        except self._errors as exc:
            self._trip(exc)

    def _trip(self, exc: BaseException) -> None:
        if time.monotonic() >= self._open_until:
            log.warning("cluster_redis_unavailable", error=type(exc).__name__)
        self._open_until = time.monotonic() + OPEN_SECONDS


async def _call(handler: Handler, args: dict[str, Any]) -> Any:
    value = handler(args)
    if isinstance(value, Awaitable):
        value = await value
    return value
