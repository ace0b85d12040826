"""Migrations: the serving process skips Alembic when the database is already current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory

from gpuchat.db import migrate


def test_the_head_read_from_the_files_is_alembics() -> None:
    script = ScriptDirectory.from_config(migrate.alembic_config())
    assert migrate.head_revision() == script.get_current_head()


def test_a_current_database_is_opened_without_importing_alembic(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'gpuchat.db'}"
    program = f"""
import asyncio, sys
from gpuchat.core.db import create_engine
from gpuchat.db import migrate

async def main():
    engine = create_engine({url!r})
    await migrate.upgrade(engine)
    first = "alembic" in sys.modules
    sys.modules.pop("alembic", None)
    for name in [m for m in sys.modules if m.startswith("alembic.")]:
        del sys.modules[name]
    await migrate.upgrade(engine)
    await engine.dispose()
    print(first, "alembic" in sys.modules)

asyncio.run(main())
"""
    out = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["True", "False"]  # a new database is migrated; a current one is not


async def test_the_migrated_schema_matches_the_models(tmp_path: Path) -> None:
    """Every table, column and index of db/models.py exists as the migrations build it."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from gpuchat.core.db import create_engine
    from gpuchat.db.models import Base

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'gpuchat.db'}")
    try:
        await migrate.upgrade(engine)
        async with engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await engine.dispose()
    assert differences == []
