"""Backups and restores of the gpuchat database: `gpuchat db backup` and `gpuchat db restore`.

SQLite uses the online backup API (a consistent copy while the gateway keeps serving).
PostgreSQL uses `pg_dump --format=custom`; a restore replays it with `psql` in one
transaction after dropping gpuchat's own tables, so a failed restore changes nothing and a
restore never touches other tables in the same database. The connection settings reach the
PostgreSQL tools through `PG*` environment variables, never the command line, so the
password does not show in `ps`.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from subprocess import DEVNULL, PIPE

from sqlalchemy.engine import URL, make_url

from gpuchat.db.models import Base

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Database:
    url: URL

    @classmethod
    def parse(cls, url: str) -> Database:
        return cls(make_url(url))

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def suffix(self) -> str:
        return ".db" if self.is_sqlite else ".dump"

    @property
    def sqlite_path(self) -> Path:
        if not self.url.database or self.url.database == ":memory:":
            raise BackupError("An in-memory SQLite database cannot be backed up.")
        return Path(self.url.database)


def default_backup_path(directory: Path, db: Database, *, label: str = "gpuchat") -> Path:
    """`<label>-<UTC time><suffix>` in `directory`, never the name of an existing file."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"{label}-{stamp}{db.suffix}"
    n = 1
    while path.exists():
        n += 1
        path = directory / f"{label}-{stamp}-{n}{db.suffix}"
    return path


def backup(db: Database, dest: Path) -> Path:
    """Write a consistent copy of the database to `dest` (never half a file)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if db.is_sqlite:
            _sqlite_copy(db.sqlite_path, partial, must_exist=True)
        else:
            _pg_run(db, ["pg_dump", "--format=custom", "--no-owner", "--file", str(partial)])
        partial.replace(dest)
    finally:
        partial.unlink(missing_ok=True)
    return dest


def restore(db: Database, source: Path) -> None:
    """Replace the database's gpuchat tables with the backup's. Stop the gateway first."""
    kind = _backup_kind(source)
    if kind != ("sqlite" if db.is_sqlite else "postgresql"):
        target = "SQLite" if db.is_sqlite else "PostgreSQL"
        raise BackupError(f"{source} is a {kind} backup; the configured database is {target}.")
    if db.is_sqlite:
        _check_sqlite_backup(source)
        _sqlite_copy(source, db.sqlite_path, must_exist=False)
        return
    _pg_restore(db, source)


def _pg_restore(db: Database, source: Path) -> None:
    # pg_restore writes the dump as SQL; psql runs it after dropping gpuchat's tables, all in
    # one transaction that is committed only once pg_restore has finished cleanly (psql rolls
    # an unfinished transaction back when its input ends).
    _require_tool("pg_restore")
    _require_tool("psql")
    drop = "".join(f'DROP TABLE IF EXISTS "{name}" CASCADE;\n' for name in _gpuchat_tables())
    env = _pg_env(db.url)
    restore_argv = ["pg_restore", "--no-owner", "--no-privileges", "--file", "-", str(source)]
    psql_argv = ["psql", "--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1"]
    with (
        tempfile.TemporaryFile() as restore_err,
        tempfile.TemporaryFile() as psql_err,
        subprocess.Popen(restore_argv, stdout=PIPE, stderr=restore_err, env=env) as producer,
        subprocess.Popen(
            psql_argv, stdin=PIPE, stdout=DEVNULL, stderr=psql_err, env=env
        ) as consumer,
    ):
        assert producer.stdout is not None and consumer.stdin is not None
        try:
            consumer.stdin.write(f"BEGIN;\n{drop}".encode())
            shutil.copyfileobj(producer.stdout, consumer.stdin, 1 << 20)
            if producer.wait() == 0:
                consumer.stdin.write(b"\nCOMMIT;\n")
            consumer.stdin.close()
        except BrokenPipeError:
            producer.kill()  # psql stopped at the first error; its stderr says which
        producer.wait()
        consumer.wait()
        ends = (("pg_restore", producer, restore_err), ("psql", consumer, psql_err))
        for tool, child, err in ends:
            if child.returncode != 0:
                err.seek(0)
                raise BackupError(f"{tool} failed: {_last_line(err.read(), child.returncode)}")


def _gpuchat_tables() -> list[str]:
    return ["alembic_version", *(t.name for t in reversed(Base.metadata.sorted_tables))]


def _backup_kind(source: Path) -> str:
    try:
        with source.open("rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise BackupError(f"Cannot read {source}: {exc.strerror}.") from exc
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_DUMP_MAGIC):
        return "postgresql"
    raise BackupError(f"{source} is not a gpuchat backup (neither SQLite nor a pg_dump file).")


def _check_sqlite_backup(source: Path) -> None:
    try:
        with _sqlite_connect(source, read_only=True) as conn:
            ok = conn.execute("PRAGMA quick_check").fetchone()
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            tables = {name for (name,) in rows}
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{source} is damaged ({exc}).") from exc
    if not ok or ok[0] != "ok":
        raise BackupError(f"{source} is damaged (SQLite quick_check: {ok and ok[0]}).")
    if "alembic_version" not in tables:
        raise BackupError(f"{source} is an SQLite file but not a gpuchat database.")


def _sqlite_copy(source: Path, dest: Path, *, must_exist: bool) -> None:
    if must_exist and not source.is_file():
        raise BackupError(f"There is no database at {source} yet.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with _sqlite_connect(source, read_only=True) as src, _sqlite_connect(dest) as dst:
        src.backup(dst)


def _sqlite_connect(path: Path, *, read_only: bool = False) -> closing[sqlite3.Connection]:
    """A connection closed on exit (sqlite3's own context manager only commits)."""
    uri = f"{path.resolve().as_uri()}?mode=ro" if read_only else str(path)
    try:
        return closing(sqlite3.connect(uri, uri=read_only, timeout=30))
    except sqlite3.Error as exc:
        raise BackupError(f"Cannot open {path}: {exc}.") from exc


def _pg_env(url: URL) -> dict[str, str]:
    env = dict(os.environ)
    settings = {
        "PGHOST": url.host,
        "PGPORT": str(url.port) if url.port else None,
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
        "PGDATABASE": url.database,
    }
    ssl = url.query.get("ssl") or url.query.get("sslmode")
    if isinstance(ssl, str):
        settings["PGSSLMODE"] = {"true": "require", "false": "disable"}.get(ssl, ssl)
    env.update({k: v for k, v in settings.items() if v})
    return env


def _require_tool(tool: str) -> None:
    if shutil.which(tool) is None:
        raise BackupError(
            f"`{tool}` is not installed. Install the PostgreSQL client tools of the server's "
            "major version (Debian/Ubuntu: postgresql-client-16), or run the command inside "
            "the gateway image, which ships them."
        )


def _last_line(stderr: bytes, returncode: int) -> str:
    lines = stderr.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else f"exit status {returncode}"


def _pg_run(db: Database, argv: list[str]) -> None:
    _require_tool(argv[0])
    done = subprocess.run(argv, capture_output=True, env=_pg_env(db.url), check=False)
    if done.returncode != 0:
        raise BackupError(f"{argv[0]} failed: {_last_line(done.stderr, done.returncode)}")
