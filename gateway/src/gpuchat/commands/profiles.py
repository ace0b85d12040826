"""`gpuchat profiles`: the profile set kept in the database, as profiles.yaml, and the list
of what the gateway serves (`check` of a file is in app.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gpuchat.commands.common import err, load_settings, with_database
from gpuchat.core.config import ProfilesSource
from gpuchat.engines.profiles import ProfilesError, load_profiles
from gpuchat.services.profiles.catalog import Listing, current_profiles
from gpuchat.services.profiles.seed import export_profiles, import_profiles

profiles_app = typer.Typer(
    help="Model profiles: list them; import and export the database's as profiles.yaml.",
    no_args_is_help=True,
)


@profiles_app.command("import")
def profiles_import(
    source: Annotated[Path, typer.Argument(help="A profiles.yaml file.")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Also delete the profiles the file lacks.")
    ] = False,
) -> None:
    """Merge a profiles file into the database by name (add, update). A running gateway
    uses the result after its restart; edits from the admin UI apply at once."""
    try:
        file = load_profiles(source)
        added, updated, removed = with_database(
            lambda sessions: import_profiles(sessions, file, replace=replace, user_id=None)
        )
    except (ProfilesError, ValueError) as exc:
        err(str(exc))
        raise typer.Exit(2) from exc
    err(f"Added {added or 'none'}, updated {updated or 'none'}, removed {removed or 'none'}.")


@profiles_app.command("export")
def profiles_export() -> None:
    """Print the profiles in the database as profiles.yaml (stdout)."""
    typer.echo(with_database(export_profiles), nl=False)


@profiles_app.command("list")
def profiles_list() -> None:
    """List the model profiles the gateway serves (`*`: the active one): the database's,
    as the admin UI shows them, or the file's with GPUCHAT_PROFILES_SOURCE=file."""
    settings = load_settings()

    async def listing(sessions: async_sessionmaker[AsyncSession] | None) -> Listing:
        return await current_profiles(sessions, settings.profiles)

    try:
        if settings.profiles_source is ProfilesSource.database:
            found = with_database(listing)
        else:
            found = asyncio.run(listing(None))
    except ProfilesError as exc:
        err(str(exc))
        raise typer.Exit(2) from exc
    profiles = found.profiles
    default = profiles.default_profile.name
    for profile in profiles.profiles:
        marker = "*" if profile.name == default else " "
        aliases = ", ".join(profile.aliases) or "-"
        target = profile.model or ", ".join(profile.urls)
        typer.echo(f"{marker} {profile.name:<20} {profile.engine.value:<9} {aliases:<30} {target}")
    if found.source == "file" and settings.profiles_source is ProfilesSource.database:
        err("No profiles in the database yet: the gateway's first start copies these in.")
