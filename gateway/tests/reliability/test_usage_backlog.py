"""The usage writer's bound: rows past it are dropped, counted and logged, never silently."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gpuchat.core.db import create_engine, create_sessionmaker
from gpuchat.db.migrate import upgrade
from gpuchat.db.models import UsageRow
from gpuchat.services.usage.recorder import UsageRecord, UsageRecorder


class LogRecorder:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def __getattr__(self, level: str) -> Callable[..., None]:
        return lambda event, **fields: self.entries.append({"event": event, **fields})


async def test_rows_past_the_bound_are_dropped_counted_and_the_rest_written_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    engine = create_engine(url)
    await upgrade(engine)
    sessions = create_sessionmaker(engine)
    database_up = False

    @asynccontextmanager
    async def flaky_begin() -> AsyncIterator[AsyncConnection]:
        if not database_up:
            raise ConnectionRefusedError(111, "Connect call failed")
        async with engine.begin() as conn:
            yield conn

    monkeypatch.setattr("gpuchat.services.usage.recorder.MAX_PENDING", 3)
    monkeypatch.setattr("gpuchat.services.usage.recorder.RETRY_SECONDS", 0.05)
    logs = LogRecorder()
    monkeypatch.setattr(
        "gpuchat.services.usage.recorder.log", logs
    )  # the module's logger is cached on first use
    dropped: list[int] = []
    recorder = UsageRecorder(flaky_begin, on_dropped=dropped.append)
    await recorder.start()
    for n in range(5):
        row = UsageRecord(request_id=f"r{n}", client="api", model_alias="m", status_code=200)
        recorder.record(row)
    await asyncio.sleep(0.3)
    assert recorder.pending == 3
    database_up = True
    await recorder.flush()
    await recorder.close()

    async with sessions() as session:
        ids = (await session.execute(sa.select(UsageRow.request_id))).scalars().all()
    await engine.dispose()
    assert sorted(ids) == ["r0", "r1", "r2"]
    assert dropped == [1, 1]
    events = [entry["event"] for entry in logs.entries]
    assert events.count("usage_write_failed") == 1  # once per outage, not once a retry
    assert events.count("usage_rows_dropped") == 1
    [recovered] = [e for e in logs.entries if e["event"] == "usage_write_recovered"]
    assert recovered["dropped"] == 2
