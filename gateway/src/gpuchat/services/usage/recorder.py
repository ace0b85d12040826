"""Usage rows: one per upstream request, written off the streaming path in small batches.

The relay calls `record()` (synchronous, never blocks) from its `finally`, even when the
stream was cancelled by a client disconnect, where no await may run. A single writer task
inserts what has queued up in one transaction, so fifty finishing streams cost one commit.

The writer speaks SQLAlchemy Core on a plain connection (an ORM session per batch cost more
than the insert), and a key's `last_used` is written at most once a minute (`KEY_TOUCH_SECONDS`):
at one stream at a time, these two made most of the gateway's CPU per request
(docs/benchmarks.md).

A database outage delays rows instead of losing them: whatever a write fails with (a
refused connection and a connect timeout are not SQLAlchemy errors), the rows stay queued
in memory and the writer tries again every second until the database answers. The queue
is bounded (`MAX_PENDING`); a row past the bound is dropped, counted (`on_dropped`, the
`gpuchat_usage_rows_dropped_total` metric) and logged once per outage with the count.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import bindparam, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from gpuchat.db.models import ApiKey, UsageRow

log = structlog.get_logger(__name__)

MAX_PENDING = 100_000
BATCH_SIZE = 500
GATHER_SECONDS = 0.05
RETRY_SECONDS = 1.0
KEY_TOUCH_SECONDS = 60.0  # how fresh an API key's `last_used` is kept


@dataclass(slots=True)
class UsageRecord:
    request_id: str
    client: str
    model_alias: str
    status_code: int
    user_id: int | None = None
    api_key_id: int | None = None
    profile: str | None = None
    engine: str | None = None
    ctx_len: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    tokens_estimated: bool = False
    ttft_ms: int | None = None
    latency_ms: int | None = None
    queue_ms: int | None = None
    error_type: str | None = None
    client_request_id: str | None = None  # the client's X-Request-Id, for correlation only
    created: datetime = field(default_factory=lambda: datetime.now(UTC))

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _COLUMNS}


_COLUMNS = tuple(f.name for f in fields(UsageRecord))
_INSERT = insert(UsageRow)
_TOUCH = (
    update(ApiKey)
    .where(ApiKey.id.in_(bindparam("ids", expanding=True)))
    .values(last_used=bindparam("now"))
)


class UsageRecorder:
    def __init__(
        self,
        begin: Callable[[], AbstractAsyncContextManager[AsyncConnection]],
        listeners: tuple[Callable[[UsageRecord], None], ...] = (),
        on_dropped: Callable[[int], None] = lambda _count: None,
    ) -> None:
        self._begin = begin  # a transaction on its own connection (`AsyncEngine.begin`)
        self._touched: dict[int, float] = {}  # API key id -> when its last_used was written
        # Told of every row as it is recorded (metrics, token counting): sync and cheap.
        self._listeners = listeners
        self._on_dropped = on_dropped
        self._pending: list[UsageRecord] = []
        self._dropped = 0  # in the current outage
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def record(self, row: UsageRecord) -> None:
        for listener in self._listeners:
            try:
                listener(row)
            except Exception:
                log.exception("usage_listener_failed", request_id=row.request_id)
        if len(self._pending) >= MAX_PENDING:
            if not self._dropped:
                log.error("usage_rows_dropped", reason="backlog full", pending=MAX_PENDING)
            self._dropped += 1
            self._on_dropped(1)
            return
        self._pending.append(row)
        self._idle.clear()
        self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="usage-writer")

    async def flush(self, wait_seconds: float = 10.0) -> None:
        """Wait until every row recorded so far is in the database."""
        async with asyncio.timeout(wait_seconds):
            await self._idle.wait()

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._task), timeout=10)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        failing_since: float | None = None
        while True:
            if not self._pending:
                self._idle.set()
                if self._closing:
                    return
                await self._wake.wait()
                self._wake.clear()
                if not self._closing:
                    # Let the rows of requests ending together share one transaction.
                    await asyncio.sleep(GATHER_SECONDS)
                continue
            batch = self._pending[:BATCH_SIZE]
            try:
                await self._write(batch)
            except Exception as exc:  # whatever the driver raises: the rows wait
                if failing_since is None:
                    failing_since = time.monotonic()
                    log.warning(
                        "usage_write_failed", error=type(exc).__name__, pending=len(self._pending)
                    )
                if self._closing:
                    log.error("usage_rows_lost_at_shutdown", count=len(self._pending))
                    return
                await asyncio.sleep(RETRY_SECONDS)
                continue
            del self._pending[: len(batch)]
            if failing_since is not None:
                log.info(
                    "usage_write_recovered",
                    outage_s=round(time.monotonic() - failing_since, 1),
                    pending=len(self._pending),
                    dropped=self._dropped,
                )
                failing_since, self._dropped = None, 0

    async def _write(self, batch: list[UsageRecord]) -> None:
        rows = [row.values() for row in batch]
        stale_keys = self._stale_keys(batch)
        try:
            async with self._begin() as conn:
                await conn.execute(_INSERT, rows)
                if stale_keys:
                    await conn.execute(_TOUCH, {"ids": stale_keys, "now": datetime.now(UTC)})
            touched = time.monotonic()
            self._touched.update(dict.fromkeys(stale_keys, touched))
        except IntegrityError:
            # A retried batch may be partly in already (commit landed, answer lost):
            # write row by row and skip the request ids that exist.
            for row in rows:
                with contextlib.suppress(IntegrityError):
                    async with self._begin() as conn:
                        await conn.execute(_INSERT, [row])

    def _stale_keys(self, batch: list[UsageRecord]) -> list[int]:
        """The batch's API keys whose `last_used` was not written in the last minute."""
        since = time.monotonic() - KEY_TOUCH_SECONDS
        ids = {row.api_key_id for row in batch if row.api_key_id is not None}
        return sorted(i for i in ids if self._touched.get(i, since - 1) < since)
