"""`gpuchat usage export` writes the usage rows as CSV to stdout (a range, a group)."""

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
from gpuchat.db.models import Group, GroupMember, UsageRow, User


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


async def seed_group(url: str) -> None:
    """Rows of ann and bob (in `team`), of cy (in no group), and of nobody (a key gone)."""
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
        async with session_scope(create_sessionmaker(engine)) as session:
            people = [User(email=f"{name}@example.com") for name in ("ann", "bob", "cy")]
            team, empty = Group(name="team"), Group(name="empty")
            session.add_all([*people, team, empty])
            await session.flush()
            session.add_all(GroupMember(group_id=team.id, user_id=p.id) for p in people[:2])
            for n, user_id in enumerate([p.id for p in people] + [None]):
                session.add(
                    UsageRow(
                        request_id=f"row-{n}",
                        user_id=user_id,
                        client="api",
                        model_alias="plain",
                        status_code=200,
                        created=datetime(2024, 5, 1, 12, n, tzinfo=UTC),
                    )
                )
    finally:
        await engine.dispose()


def test_usage_export_of_a_group_keeps_its_members_rows_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gpuchat.db'}"
    asyncio.run(seed_group(url))
    monkeypatch.setenv("GPUCHAT_DATABASE_URL", url)

    def export(*options: str) -> tuple[int, list[dict[str, str]], str]:
        result = CliRunner().invoke(app, ["usage", "export", *options])
        rows = list(csv.DictReader(io.StringIO(result.stdout, newline="")))
        return result.exit_code, rows, result.stderr

    code, team, _ = export("--group", "team")
    _, everyone, _ = export()
    _, nobody, _ = export("--group", "empty")
    unknown, nothing, message = export("--group", "no-such-team")

    assert code == 0
    assert [(r["request_id"], r["user_email"]) for r in team] == [
        ("row-0", "ann@example.com"),
        ("row-1", "bob@example.com"),
    ]
    assert len(everyone) == 4
    assert nobody == []  # a group without members: an empty file, not an error
    assert unknown != 0 and nothing == []
    assert "No group named 'no-such-team'" in message
