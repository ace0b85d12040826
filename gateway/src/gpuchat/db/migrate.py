"""Apply Alembic migrations from inside the app (serve) or the CLI (`gpuchat db upgrade`).

A database already at the newest revision (the usual case: compose's `migrate` service or
Kubernetes' init container ran `gpuchat db upgrade` first) is recognised with one query,
without importing Alembic: the serving process stays about 12 MiB smaller.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

# gateway/src/gpuchat/db/migrate.py -> gateway/alembic.ini, gateway/migrations/versions
GATEWAY = Path(__file__).resolve().parents[3]
ALEMBIC_INI = GATEWAY / "alembic.ini"
VERSIONS = GATEWAY / "migrations" / "versions"
_REVISION = re.compile(r"^(down_revision|revision)\b[^=]*=\s*(?:['\"]([^'\"]+)['\"]|None)", re.M)


def alembic_config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config(str(ALEMBIC_INI))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    if revision == "head" and await _at_head(engine):
        return
    from alembic import command

    async with engine.begin() as connection:
        await connection.run_sync(lambda c: command.upgrade(alembic_config(c), revision))


@cache
def head_revision() -> str | None:
    """The one revision no other migration builds on, read from the files; None if unclear."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in VERSIONS.glob("*.py"):
        for name, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            if value:
                (revisions if name == "revision" else parents).add(value)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


async def _at_head(engine: AsyncEngine) -> bool:
    head = head_revision()
    if head is None:
        return False
    try:
        async with engine.connect() as connection:
            current = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    except SQLAlchemyError:
        return False  # a new database: no alembic_version table yet
    return bool(current == head)
