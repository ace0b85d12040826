"""The usage writer's bound: rows past it are dropped, counted and logged, never silently."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from structlog.testing import capture_logs

from gpuchat.core.db import create_engine, create_sessionmaker
from gpuchat.db.migrate import upgrade
from gpuchat.db.models import UsageRow
from gpuchat.services import usage
from gpuchat.services.usage import UsageRecord, UsageRecorder


async def test_rows_past_the_bound_are_dropped_counted_and_the_rest_written_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    engine = create_engine(url)
    await upgrade(engine)
    sessions = create_sessionmaker(engine)
    database_up = False

    @asynccontextmanager
    async def flaky_sessions() -> AsyncIterator[AsyncSession]:
        if not database_up:
            raise ConnectionRefusedError(111, "Connect call failed")
        async with sessions() as session:
            yield session

    monkeypatch.setattr(usage, "MAX_PENDING", 3)
    monkeypatch.setattr(usage, "RETRY_SECONDS", 0.05)
    dropped: list[int] = []
    recorder = UsageRecorder(flaky_sessions, on_dropped=dropped.append)  # type: ignore[arg-type]
    await recorder.start()
    with capture_logs() as logs:
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
    events = [entry["event"] for entry in logs]
    assert events.count("usage_write_failed") == 1  # once per outage, not once a retry
    assert events.count("usage_rows_dropped") == 1
    [recovered] = [entry for entry in logs if entry["event"] == "usage_write_recovered"]
    assert recovered["dropped"] == 2
