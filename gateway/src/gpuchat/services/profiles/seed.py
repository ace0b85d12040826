"""The profile set kept in the database: seeded once from profiles.yaml, read at start,
imported and exported as the same YAML (`gpuchat profiles import|export`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gpuchat.core.db import read_session, session_scope
from gpuchat.db.models import ProfileDefinition
from gpuchat.db.repositories import profiles as repo
from gpuchat.db.repositories import runtime
from gpuchat.engines.profile_documents import document_of, to_yaml, validate_profile, validate_set
from gpuchat.engines.profiles import ProfilesError, ProfilesFile, load_profiles

log = logging.getLogger(__name__)


def profile_set(rows: list[ProfileDefinition], active: str | None) -> ProfilesFile:
    """The stored documents as one validated set; `active` (the admin's last switch) is
    its default when it still names a profile."""
    profiles = [validate_profile(row.document) for row in rows]
    names = {p.name for p in profiles}
    return validate_set(profiles, active if active in names else None)


@dataclass(frozen=True, slots=True)
class StoredSet:
    profiles: ProfilesFile
    # Raised by every change: a supervisor keeps the set of the highest revision it was
    # sent, whatever order several gateway processes' pushes arrive in.
    revision: int


async def load_profile_set(sessions: async_sessionmaker[AsyncSession], seed: Path) -> StoredSet:
    """At start: the stored set; an empty table is seeded from `seed` (profiles.yaml) first.
    Several processes may start at once: the one whose seed commits wins, the rest read."""
    async with read_session(sessions) as session:
        empty = await repo.count(session) == 0
    if empty:
        file = load_profiles(seed)
        try:
            await import_profiles(sessions, file, replace=False, user_id=None)
            log.info("profiles seeded from %s (%d)", seed, len(file.profiles))
        except IntegrityError:
            log.info("profiles were seeded by another process")
    stored = await stored_set(sessions)
    if stored is None:
        raise ProfilesError("profiles in the database: none (the seed was emptied meanwhile)")
    return stored


async def stored_set(sessions: async_sessionmaker[AsyncSession]) -> StoredSet | None:
    """The stored set, the active profile its default; None while the table is empty."""
    async with read_session(sessions) as session:
        # Read before the rows: a change committed in between is newer than this number
        # says, never older (a push of it may then lose to the change's own push).
        revision = await repo.revision(session)
        rows = list(await repo.list_all(session))
        active = await runtime.get(session, runtime.ACTIVE_PROFILE)
    if not rows:
        return None
    try:
        return StoredSet(profile_set(rows, active), revision)
    except ValueError as exc:  # ProfileInvalid: a document a newer schema no longer takes
        raise ProfilesError(f"profiles in the database: {exc}") from exc


async def import_profiles(
    sessions: async_sessionmaker[AsyncSession],
    file: ProfilesFile,
    *,
    replace: bool,
    user_id: int | None,
) -> tuple[list[str], list[str], list[str]]:
    """Merge `file` into the stored set by name (added, updated); `replace` also removes
    the profiles the file lacks. The file's `default` becomes the active profile when none
    was chosen yet. Returns (added, updated, removed)."""
    added, updated, removed = [], [], []
    async with session_scope(sessions) as session:
        await repo.next_revision(session)
        rows = {row.name: row for row in await repo.list_all(session)}
        for profile in file.profiles:
            document = document_of(profile)
            row = rows.pop(profile.name, None)
            if row is None:
                await repo.add(session, profile.name, document, user_id=user_id)
                added.append(profile.name)
            elif row.document != document:
                repo.update(row, document, user_id=user_id)
                updated.append(profile.name)
        if replace:
            for row in rows.values():
                await repo.delete(session, row)
                removed.append(row.name)
        all_rows = list(await repo.list_all(session))
        profile_set(all_rows, None)  # aliases still unique across the merged set
        if file.default and await runtime.get(session, runtime.ACTIVE_PROFILE) is None:
            await runtime.put(session, runtime.ACTIVE_PROFILE, file.default, user_id=user_id)
    return added, updated, removed


async def export_profiles(sessions: async_sessionmaker[AsyncSession]) -> str:
    """The stored set as profiles.yaml: what the administrators wrote, active as default."""
    async with read_session(sessions) as session:
        rows = list(await repo.list_all(session))
        active = await runtime.get(session, runtime.ACTIVE_PROFILE)
    names = [row.name for row in rows]
    data: dict[str, object] = {}
    if active in names:
        data["default"] = active
    data["profiles"] = [row.document for row in rows]
    return to_yaml(data)
