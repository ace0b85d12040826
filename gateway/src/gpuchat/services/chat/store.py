"""Storing the web chat's answers and titles, also after the client has gone.

An answer is stored by a task of its own, so neither a client leaving nor a database
outage loses it: a write that fails for a reason that may pass (the database restarting,
a refused connection, a timeout) is tried again, with a growing pause, for up to
`RETRY_FOR_S`; the stream's `done` event does not wait for that (its message id is then
null). Answers waiting this way are bounded (`MAX_WAITING`); past the bound, or past the
time, the answer is dropped with an error log line.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gpuchat.core.db import session_scope
from gpuchat.core.errors import GatewayError, error_body
from gpuchat.db.models import Conversation, Message, MessageStatus
from gpuchat.db.repositories import conversations
from gpuchat.services.relay.context import RelayContext

log = structlog.get_logger(__name__)

RETRY_FOR_S = 600.0
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 10.0
MAX_WAITING = 10_000


@dataclass(slots=True)
class AnswerRecord:
    """The assistant message of one turn, as it will be stored."""

    conversation_id: int
    parent_id: int
    model: str
    status: MessageStatus = MessageStatus.error
    content: str = ""
    reasoning: str | None = None  # a reasoning model's thinking, as streamed
    reasoning_ms: int | None = None
    token_in: int | None = None
    token_out: int | None = None
    ttft_ms: int | None = None
    latency_ms: int | None = None
    tokens_per_s: float | None = None
    error: dict[str, Any] | None = None
    settled: bool = False

    def observe(self, ctx: RelayContext, text: str, error: dict[str, Any] | None) -> None:
        """The relay ended: complete, stopped by the user, or failed."""
        self._measure(ctx, text)
        if ctx.done and ctx.error_type is None:
            self.status = MessageStatus.complete
        elif ctx.stopped_by == "user":
            self.status = MessageStatus.interrupted
        else:
            self.status = MessageStatus.error
            self.error = error or error_body("The model server failed", 502, code=ctx.error_type)
        self.settled = True

    def fail(self, error: GatewayError, ctx: RelayContext | None, text: str) -> None:
        if ctx is not None:
            self._measure(ctx, text)
        stopped = error.code == "stopped"
        self.status = MessageStatus.interrupted if stopped else MessageStatus.error
        self.error = None if stopped else error.body()
        self.settled = True

    def interrupt(self, ctx: RelayContext | None, text: str) -> None:
        if ctx is not None:
            self._measure(ctx, text)
        else:
            self.content = text
        self.status = MessageStatus.interrupted
        self.settled = True

    def _measure(self, ctx: RelayContext, text: str) -> None:
        self.content = text
        self.token_in, self.token_out = ctx.input_tokens, ctx.output_tokens or ctx.content_chunks
        now = time.monotonic()
        if ctx.first_token_at is not None:
            self.ttft_ms = round((ctx.first_token_at - ctx.started) * 1000)
            generating = now - ctx.first_token_at
            if generating > 0 and self.token_out:
                self.tokens_per_s = round(self.token_out / generating, 1)
        self.latency_ms = round((now - ctx.started) * 1000)

    def usage(self) -> dict[str, Any]:
        return {
            "input_tokens": self.token_in,
            "output_tokens": self.token_out,
            "ttft_ms": self.ttft_ms,
            "latency_ms": self.latency_ms,
            "tokens_per_s": self.tokens_per_s,
            "reasoning_ms": self.reasoning_ms,
        }


class ChatStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._pending: set[asyncio.Task[int | None]] = set()

    async def save(self, answer: AnswerRecord) -> int:
        async with session_scope(self._sessions) as session:
            message = Message(
                conversation_id=answer.conversation_id,
                parent_id=answer.parent_id,
                role="assistant",
                content=answer.content,
                reasoning=answer.reasoning,
                reasoning_ms=answer.reasoning_ms,
                status=answer.status,
                model=answer.model,
                token_in=answer.token_in,
                token_out=answer.token_out,
                ttft_ms=answer.ttft_ms,
                latency_ms=answer.latency_ms,
            )
            session.add(message)
            conversation = await session.get(Conversation, answer.conversation_id)
            if conversation is not None:
                conversations.touch(conversation)
            await session.flush()
            return message.id

    def save_later(self, answer: AnswerRecord) -> asyncio.Task[int | None]:
        """Store the answer in a task of its own: it completes even when the stream that
        asked is cancelled (a client leaving must not lose the partial answer)."""
        task = asyncio.get_running_loop().create_task(self._save_logged(answer))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return task

    async def _save_logged(self, answer: AnswerRecord) -> int | None:
        give_up = time.monotonic() + RETRY_FOR_S
        pause = RETRY_FIRST_S
        while True:
            try:
                return await self.save(answer)
            except IntegrityError as exc:  # its conversation was deleted meanwhile
                reason: str = type(exc).__name__
            except Exception as exc:  # the database away: try again
                reason = type(exc).__name__
                if time.monotonic() + pause < give_up and len(self._pending) <= MAX_WAITING:
                    if pause == RETRY_FIRST_S:
                        log.warning(
                            "answer_store_retrying",
                            conversation_id=answer.conversation_id,
                            error=reason,
                        )
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, RETRY_MAX_S)
                    continue
            log.error("answer_not_stored", conversation_id=answer.conversation_id, error=reason)
            return None

    async def set_title(self, conversation_id: int, title: str) -> bool:
        """Whether the title was stored (a database away: not now; the next turn titles)."""
        try:
            async with session_scope(self._sessions) as session:
                conversation = await session.get(Conversation, conversation_id)
                if conversation is not None and not conversation.title:
                    conversation.title = title
        except Exception as exc:
            log.warning(
                "title_not_stored", conversation_id=conversation_id, error=type(exc).__name__
            )
            return False
        return True

    async def flush(self) -> None:
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def close(self) -> None:
        """At shutdown: wait a little for answers still being stored, then say how many
        could not be."""
        if self._pending:
            _, late = await asyncio.wait(list(self._pending), timeout=5)
            for task in late:
                task.cancel()
            if late:
                log.error("answers_not_stored_at_shutdown", count=len(late))
