"""What every `gpuchat` command shares: messages on stderr, the settings, the database.

Anything a script may capture (a new key, a backup's path) goes alone to stdout; messages
go to stderr through `err`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gpuchat.core.config import Settings
from gpuchat.core.db import create_engine, create_sessionmaker, session_scope
from gpuchat.db import migrate

T = TypeVar("T")


def err(message: str) -> None:
    typer.echo(message, err=True)


def load_settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        err(f"Invalid configuration: {exc}")
        raise typer.Exit(2) from exc


def with_database(work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]) -> T:
    """Run `work` against the configured database, migrated to the newest schema first."""

    async def main() -> T:
        engine = create_engine(load_settings().resolved_database_url)
        try:
            await migrate.upgrade(engine)
            return await work(create_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main())


def with_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def scoped(sessions: async_sessionmaker[AsyncSession]) -> T:
        async with session_scope(sessions) as session:
            return await work(session)

    return with_database(scoped)
