"""`gpuchat profiles`: the profile set kept in the database, as profiles.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gpuchat.commands.common import err, with_database
from gpuchat.engines.profiles import ProfilesError, load_profiles
from gpuchat.services.profiles.seed import export_profiles, import_profiles

profiles_app = typer.Typer(
    help="Model profiles in the database: import and export them as profiles.yaml.",
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
