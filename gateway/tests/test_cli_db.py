"""`gpuchat db backup`, `db restore` and `db prune` on SQLite and on the local PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner, Result

from gpuchat.commands.app import app
from gpuchat.core import security
from gpuchat.core.db import create_engine, create_sessionmaker, session_scope
from gpuchat.db import migrate
from gpuchat.db.models import (
    AuditEntry,
    Conversation,
    Message,
    ProfileSetRevision,
    UsageRow,
    User,
)
from gpuchat.services.usage import retention
from tests.conftest import POSTGRES_URL

# A fixed day in the middle of a month: what "this month" and "1d ago" mean must not depend on
# the day the suite runs (on the 1st, yesterday is last month).
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=400)


@pytest.fixture(autouse=True)
def _pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retention, "utcnow", lambda: NOW)


async def _admin(statement: str) -> None:
    engine = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
def new_postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database beside the test database; its URL."""
    name = f"gpuchat_cli_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    if request.param == "postgres":
        url: str = request.getfixturevalue("new_postgres_database")
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'gpuchat.db'}"
    monkeypatch.setenv("GPUCHAT_DATABASE_URL", url)
    monkeypatch.setenv("GPUCHAT_DATA_DIR", str(tmp_path / "data"))
    return url


def gpuchat(*argv: str) -> Result:
    return CliRunner().invoke(app, list(argv))


async def _run_sql(url: str, *statements: sa.Executable) -> list[list[tuple[object, ...]]]:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
        async with session_scope(create_sessionmaker(engine)) as session:
            out: list[list[tuple[object, ...]]] = []
            for statement in statements:
                result = await session.execute(statement)
                out.append(
                    [tuple(row) for row in result] if isinstance(statement, sa.Select) else []
                )
            return out
    finally:
        await engine.dispose()


def sql(url: str, *statements: sa.Executable) -> list[list[tuple[object, ...]]]:
    return asyncio.run(_run_sql(url, *statements))


async def _seed(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
        async with session_scope(create_sessionmaker(engine)) as session:
            user = User(email="minji@example.com", password_hash="x")
            session.add(user)
            await session.flush()
            for title, updated in (("old trip", LONG_AGO), ("this week", NOW)):
                conversation = Conversation(
                    user_id=user.id, title=title, created=updated, updated=updated
                )
                session.add(conversation)
                await session.flush()
                for role, text in (("user", "안녕하세요"), ("assistant", "네, 안녕하세요!")):
                    session.add(Message(conversation_id=conversation.id, role=role, content=text))
            for request_id, created in (("old-request", LONG_AGO), ("new-request", NOW)):
                session.add(
                    UsageRow(
                        request_id=request_id,
                        user_id=user.id,
                        client="api",
                        model_alias="default",
                        status_code=200,
                        output_tokens=7,
                        created=created,
                    )
                )
                session.add(
                    AuditEntry(
                        actor_email="cli",
                        action="user.role",
                        target_type="user",
                        target_id=request_id,
                        created=created,
                    )
                )
    finally:
        await engine.dispose()


TITLES = sa.select(Conversation.title).order_by(Conversation.title)
EMAILS = sa.select(User.email).order_by(User.email)
MESSAGES = sa.select(sa.func.count()).select_from(Message)
REQUESTS = sa.select(UsageRow.request_id).order_by(UsageRow.request_id)
AUDIT = sa.select(AuditEntry.target_id).order_by(AuditEntry.target_id)
REVISION = sa.select(ProfileSetRevision.revision)


def test_backup_then_restore_brings_back_exactly_what_was_saved(database_url: str) -> None:
    asyncio.run(_seed(database_url))
    sql(database_url, sa.update(ProfileSetRevision).values(revision=3))

    made = gpuchat("db", "backup")
    assert made.exit_code == 0, made.output
    saved = Path(made.stdout.strip())
    assert saved.is_file()
    assert saved.parent.name == "backups"

    # Life goes on after the backup: a conversation deleted, a user added.
    sql(
        database_url,
        sa.delete(Conversation).where(Conversation.title == "this week"),
        sa.insert(User).values(email="late@example.com", password_hash="x", settings={}),
        sa.update(ProfileSetRevision).values(revision=7),  # profiles edited twice since
    )
    restored = gpuchat("db", "restore", str(saved), "--yes")
    assert restored.exit_code == 0, restored.output

    titles, emails, messages, requests = sql(database_url, TITLES, EMAILS, MESSAGES, REQUESTS)
    assert titles == [("old trip",), ("this week",)]
    assert emails == [("minji@example.com",)]
    assert messages == [(4,)]
    assert requests == [("new-request",), ("old-request",)]
    # The restored profile set counts as newer than the replaced one: a running supervisor,
    # which keeps the highest revision it was sent, takes it.
    assert sql(database_url, REVISION)[0] == [(8,)]

    # What the restore replaced was saved first, so a wrong restore can be undone.
    (safety,) = saved.parent.glob("pre-restore-*")
    assert gpuchat("db", "restore", str(safety), "--yes").exit_code == 0
    assert sql(database_url, EMAILS)[0] == [("late@example.com",), ("minji@example.com",)]


def test_restore_asks_before_replacing_the_database(database_url: str) -> None:
    asyncio.run(_seed(database_url))
    saved = Path(gpuchat("db", "backup").stdout.strip())
    sql(database_url, sa.delete(Conversation))

    declined = CliRunner().invoke(app, ["db", "restore", str(saved)], input="n\n")

    assert declined.exit_code == 1
    assert sql(database_url, TITLES)[0] == []


def test_a_damaged_backup_changes_nothing(database_url: str, tmp_path: Path) -> None:
    asyncio.run(_seed(database_url))
    saved = Path(gpuchat("db", "backup").stdout.strip())
    damaged = tmp_path / f"damaged{saved.suffix}"
    damaged.write_bytes(saved.read_bytes()[: len(saved.read_bytes()) * 2 // 3])
    sql(database_url, sa.delete(Conversation).where(Conversation.title == "old trip"))

    result = gpuchat("db", "restore", str(damaged), "--yes")

    assert result.exit_code == 1
    assert "failed" in result.output or "damaged" in result.output
    assert sql(database_url, TITLES)[0] == [("this week",)]


def test_restore_refuses_a_file_that_is_not_a_backup_of_this_kind_of_database(
    database_url: str, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database")
    other = tmp_path / "other-kind"
    if database_url.startswith("sqlite"):
        other.write_bytes(b"PGDMP\x01\x0e\x00" + bytes(64))
    else:
        asyncio.run(_seed(f"sqlite+aiosqlite:///{other}"))

    for wrong in (notes, other, tmp_path / "missing.db"):
        result = gpuchat("db", "restore", str(wrong), "--yes")
        assert result.exit_code == 1, result.output
        assert "Traceback" not in result.output
    assert "not a gpuchat backup" in gpuchat("db", "restore", str(notes), "--yes").output
    assert (
        "backup; the configured database is" in gpuchat("db", "restore", str(other), "--yes").output
    )


def test_sqlite_backup_is_consistent_while_a_writer_holds_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gpuchat.db'}"
    monkeypatch.setenv("GPUCHAT_DATABASE_URL", url)
    asyncio.run(_seed(url))
    writer = sqlite3.connect(tmp_path / "gpuchat.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("DELETE FROM messages")  # not committed when the backup runs

    made = gpuchat("db", "backup", str(tmp_path / "snapshot.db"))
    writer.execute("ROLLBACK")
    writer.close()

    assert made.exit_code == 0, made.output
    copy = sqlite3.connect(tmp_path / "snapshot.db")
    assert copy.execute("SELECT count(*) FROM messages").fetchone() == (4,)
    copy.close()


def test_a_postgres_backup_restores_into_a_new_empty_database(
    new_postgres_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The restore drill of docs/operations.md: a dump taken from one database is restored
    into a fresh one, which then serves the same data."""
    monkeypatch.setenv("GPUCHAT_DATA_DIR", str(tmp_path))
    source = new_postgres_database
    asyncio.run(_seed(source))
    monkeypatch.setenv("GPUCHAT_DATABASE_URL", source)
    saved = Path(gpuchat("db", "backup", str(tmp_path / "drill.dump")).stdout.strip())

    drill = f"gpuchat_drill_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{drill}"'))
    try:
        target = make_url(POSTGRES_URL).set(database=drill).render_as_string(hide_password=False)
        monkeypatch.setenv("GPUCHAT_DATABASE_URL", target)
        result = gpuchat("db", "restore", str(saved), "--yes")
        assert result.exit_code == 0, result.output
        assert sql(target, TITLES, REQUESTS) == sql(source, TITLES, REQUESTS)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{drill}" WITH (FORCE)'))


def test_prune_deletes_old_conversations_with_their_messages_and_old_usage(
    database_url: str,
) -> None:
    asyncio.run(_seed(database_url))

    counted = gpuchat("db", "prune", "--older-than", "90d", "--dry-run")
    assert counted.exit_code == 0, counted.output
    assert "Would delete 1 conversations (2 messages) and 1 usage rows" in counted.output
    assert "and 1 audit entries" in counted.output
    assert sql(database_url, MESSAGES)[0] == [(4,)]

    pruned = gpuchat("db", "prune", "--older-than", "90d")
    assert pruned.exit_code == 0, pruned.output
    titles, messages, requests, audit = sql(database_url, TITLES, MESSAGES, REQUESTS, AUDIT)
    assert titles == [("this week",)]
    assert messages == [(2,)]
    assert requests == [("new-request",)]
    assert audit == [("new-request",)]


def test_prune_can_keep_the_audit_log(database_url: str) -> None:
    asyncio.run(_seed(database_url))
    pruned = gpuchat("db", "prune", "--older-than", "90d", "--no-audit")
    assert pruned.exit_code == 0, pruned.output
    assert sql(database_url, REQUESTS, AUDIT) == [
        [("new-request",)],
        [("new-request",), ("old-request",)],
    ]


def test_cli_user_and_key_creation_is_in_the_audit_log_as_cli(database_url: str) -> None:
    created = gpuchat("users", "create", "cli-made@example.com", "--admin")
    failed = gpuchat("users", "create", "CLI-made@example.com")
    key = gpuchat("keys", "create", "--user", "cli-made@example.com", "--name", "=cmd")
    assert (created.exit_code, failed.exit_code, key.exit_code) == (0, 1, 0)
    columns = (AuditEntry.actor_id, AuditEntry.actor_email, AuditEntry.action)
    details = (AuditEntry.target_type, AuditEntry.target_name, AuditEntry.after)
    [rows] = sql(database_url, sa.select(*columns, *details).order_by(AuditEntry.id))
    shown = security.api_key_prefix(key.stdout.strip())
    assert rows == [
        (
            None,
            "cli",
            "user.create",
            "user",
            "cli-made@example.com",
            {
                "email": "cli-made@example.com",
                "role": "admin",
                "disabled": False,
            },
        ),
        (None, "cli", "key.create", "key", f"{shown} =cmd", {"owner": "cli-made@example.com"}),
    ]


def test_prune_keeps_this_months_usage_rows_which_feed_the_quotas(database_url: str) -> None:
    asyncio.run(_seed(database_url))

    refused = gpuchat("db", "prune", "--older-than", "1d")
    assert refused.exit_code == 2
    assert "monthly quotas" in refused.output

    conversations_only = gpuchat("db", "prune", "--older-than", "1d", "--no-usage")
    assert conversations_only.exit_code == 0, conversations_only.output
    assert sql(database_url, TITLES, REQUESTS) == [
        [("this week",)],
        [("new-request",), ("old-request",)],
    ]


@pytest.mark.parametrize("bad", ["soon", "0d", "-3d", "2999-01-01"])
def test_prune_explains_a_bad_age(bad: str, database_url: str) -> None:
    result = gpuchat("db", "prune", "--older-than", bad)
    assert result.exit_code == 2
    assert "--older-than" in result.output
