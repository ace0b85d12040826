"""`gpuchat usage export` writes the usage rows as CSV to stdout."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gpuchat.commands.app import app
from gpuchat.core.db import create_engine, create_sessionmaker, session_scope
from gpuchat.db import migrate
from gpuchat.db.models import UsageRow


async def seed(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
        async with session_scope(create_sessionmaker(engine)) as session:
            for day, model in ((1, "=cmd"), (2, "plain"), (3, "late")):
                session.add(
                    UsageRow(
                        request_id=f"cli-{day}",
                        client="api",
                        model_alias=model,
                        status_code=200,
                        created=datetime(2024, 5, day, 12, tzinfo=UTC),
                    )
                )
    finally:
        await engine.dispose()


def test_usage_export_writes_the_range_as_safe_csv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gpuchat.db'}"
    asyncio.run(seed(url))
    monkeypatch.setenv("GPUCHAT_DATABASE_URL", url)
    result = CliRunner().invoke(
        app, ["usage", "export", "--from", "2024-05-01", "--to", "2024-05-02"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout, newline="")))
    assert [(r["request_id"], r["model"]) for r in rows] == [("cli-1", "'=cmd"), ("cli-2", "plain")]
    bad = CliRunner().invoke(app, ["usage", "export", "--from", "soon"])
    assert bad.exit_code == 2
