"""`gpuchat db`: migrations, backups and restores, retention."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gpuchat.commands.common import err, load_settings, with_database
from gpuchat.core.db import create_engine, create_sessionmaker, read_session, session_scope
from gpuchat.db import backup
from gpuchat.db.repositories import profiles
from gpuchat.services.usage.retention import parse_cutoff, prune

db_app = typer.Typer(
    help="The database: migrations, backups and restores, retention.", no_args_is_help=True
)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    with_database(lambda _: asyncio.sleep(0))  # opening it migrates it
    err("Database is up to date.")


@db_app.command("backup")
def db_backup(
    dest: Annotated[
        Path | None,
        typer.Argument(help="Where to write it (default: <data dir>/backups/gpuchat-<time>)."),
    ] = None,
) -> None:
    """Write a consistent backup of the database while the gateway keeps serving.

    SQLite: an online copy (.db). PostgreSQL: pg_dump's custom format (.dump). The path of
    the backup goes to stdout.
    """
    settings = load_settings()
    db = backup.Database.parse(settings.resolved_database_url)
    target = dest or backup.default_backup_path(settings.data_dir / "backups", db)
    try:
        backup.backup(db, target)
    except backup.BackupError as exc:
        err(str(exc))
        raise typer.Exit(1) from exc
    typer.echo(target)
    err(f"Backup written ({target.stat().st_size / 1e6:.1f} MB).")


@db_app.command("restore")
def db_restore(
    source: Annotated[Path, typer.Argument(help="A file written by `gpuchat db backup`.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Replace the database with a backup, then apply newer migrations. Stop the gateway first.

    The current database is backed up first (<data dir>/backups/pre-restore-<time>), and a
    restore that fails half way changes nothing.
    """
    settings = load_settings()
    db = backup.Database.parse(settings.resolved_database_url)
    if not yes:
        typer.confirm(
            f"Replace every conversation, user and usage row in the database with {source}?",
            abort=True,
        )
    safety = backup.default_backup_path(settings.data_dir / "backups", db, label="pre-restore")
    try:
        replaced = 0
        if not db.is_sqlite or db.sqlite_path.is_file():
            replaced = asyncio.run(_profile_revision(settings.resolved_database_url))
            backup.backup(db, safety)
            err(f"The database as it was is saved in {safety}.")
        backup.restore(db, source)
    except backup.BackupError as exc:
        err(str(exc))
        raise typer.Exit(1) from exc
    db_upgrade()
    # A running `gpuchat supervisor` ignores profile sets older than the one it holds:
    # the restored set must count as newer than the replaced database's.
    with_database(lambda sessions: _raise_profile_revision(sessions, replaced))
    err(f"Restored from {source}.")


async def _profile_revision(url: str) -> int:
    """The profile set's revision in the database about to be replaced (0: unreadable)."""
    engine = create_engine(url)
    try:
        async with read_session(create_sessionmaker(engine)) as session:
            return await profiles.revision(session)
    except Exception:  # a damaged database, or one from before the revision: none to pass
        return 0
    finally:
        await engine.dispose()


async def _raise_profile_revision(sessions: async_sessionmaker[AsyncSession], floor: int) -> None:
    async with session_scope(sessions) as session:
        await profiles.raise_revision_above(session, floor)


@db_app.command("prune")
def db_prune(
    older_than: Annotated[
        str, typer.Option("--older-than", help="An age (90d, 12w) or a date (2025-01-01).")
    ],
    conversations: Annotated[
        bool, typer.Option(help="Delete conversations untouched since then, with messages.")
    ] = True,
    usage: Annotated[bool, typer.Option(help="Delete usage rows recorded before then.")] = True,
    audit: Annotated[
        bool, typer.Option(help="Delete audit log entries recorded before then.")
    ] = True,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count.")] = False,
) -> None:
    """Retention: delete old conversations (with their messages), usage rows and audit
    log entries."""
    try:
        cutoff = parse_cutoff(older_than)
    except ValueError as exc:
        err(str(exc))
        raise typer.Exit(2) from exc

    try:
        report = with_database(
            lambda sessions: prune(
                sessions,
                cutoff,
                conversations=conversations,
                usage=usage,
                audit=audit,
                dry_run=dry_run,
            )
        )
    except ValueError as exc:
        err(str(exc))
        raise typer.Exit(2) from exc
    verb = "Would delete" if dry_run else "Deleted"
    err(
        f"{verb} {report.conversations} conversations ({report.messages} messages) and "
        f"{report.usage_rows} usage rows and {report.audit_rows} audit entries "
        f"from before {report.cutoff:%Y-%m-%d %H:%M} UTC."
    )
