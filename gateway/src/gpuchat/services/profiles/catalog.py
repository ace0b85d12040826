"""`ProfileCatalog`: create, edit, clone and delete model profiles from the admin UI.

Each change runs in one transaction: the new document is validated by the same schema as
profiles.yaml, the whole set is checked (aliases unique), the engine control takes the
set (it refuses to drop a profile that runs: 409), the audit hook records it, and only
then does the transaction commit. Changes in this process are serialised by a lock; those
of several gateway processes by the set's revision, raised first in each change's
transaction (its row lock makes the next change wait and then read this one's rows). The
supervisor keeps the set of the highest revision pushed to it, so pushes arriving out of
order cannot bring an older set back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gpuchat.core.db import read_session, session_scope
from gpuchat.core.errors import GatewayError
from gpuchat.db.models import ProfileDefinition
from gpuchat.db.repositories import profiles as repo
from gpuchat.engines.control import EngineControl, UnknownModel
from gpuchat.engines.profile_documents import (
    LaunchPreview,
    ProfileInvalid,
    document_of,
    parse_profile,
    preview_launch,
    to_yaml,
    validate_profile,
)
from gpuchat.engines.profiles import Profile, ProfilesFile, load_profiles
from gpuchat.services.audit.record import Action, Actor, Target, record
from gpuchat.services.profiles.seed import export_profiles, profile_set, stored_set


@dataclass(frozen=True, slots=True)
class Definition:
    name: str
    document: dict[str, Any]
    updated: datetime | None = None
    updated_by: int | None = None


@dataclass(frozen=True, slots=True)
class Listing:
    """The profile set the gateway serves, and where it came from."""

    profiles: ProfilesFile
    source: str  # "database", or "file": GPUCHAT_PROFILES_SOURCE=file, or not yet seeded


async def current_profiles(
    sessions: async_sessionmaker[AsyncSession] | None, seed: Path
) -> Listing:
    """What the admin UI lists (`gpuchat profiles list` too): the database's set, the
    active profile its default; the seed file when `sessions` is None (profiles from the
    file alone) or while the database holds none yet (the gateway's first start copies
    them in)."""
    if sessions is not None:
        stored = await stored_set(sessions)
        if stored is not None:
            return Listing(stored.profiles, "database")
    return Listing(load_profiles(seed), "file")


def invalid(exc: ProfileInvalid) -> GatewayError:
    return GatewayError(422, exc.message, code="invalid_profile", param=exc.path)


def _not_found(name: str) -> GatewayError:
    return GatewayError(404, f"There is no profile '{name}'", code="profile_not_found")


class ProfileCatalog:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        engines: EngineControl,
        *,
        editable: bool,
        seed: Path,
        models_dir: Path,
        vllm_command: tuple[str, ...] | None,
    ) -> None:
        self._sessions, self._engines = sessions, engines
        self.editable = editable  # False: GPUCHAT_PROFILES_SOURCE=file
        self._seed, self._models_dir, self._vllm_command = seed, models_dir, vllm_command
        self._lock = asyncio.Lock()

    async def definitions(self) -> list[Definition]:
        if not self.editable:
            file = load_profiles(self._seed)
            return [Definition(p.name, document_of(p)) for p in file.profiles]
        async with read_session(self._sessions) as session:
            rows = await repo.list_all(session)
            return [Definition(r.name, r.document, r.updated, r.updated_by) for r in rows]

    async def definition(self, name: str) -> Definition:
        found = next((d for d in await self.definitions() if d.name == name), None)
        if found is None:
            raise _not_found(name)
        return found

    def preview(self, text: str) -> tuple[Profile, LaunchPreview]:
        try:
            profile = parse_profile(text)
        except ProfileInvalid as exc:
            raise invalid(exc) from exc
        launch = preview_launch(
            profile, models_dir=self._models_dir, vllm_command=self._vllm_command
        )
        return profile, launch

    async def export(self) -> str:
        if not self.editable:
            return self._seed.read_text(encoding="utf-8")
        return await export_profiles(self._sessions)

    async def create(self, text: str, actor: Actor) -> Definition:
        profile = self._parse(text)
        return await self._change(actor, Action.profile_create, profile.name, lambda _: profile)

    async def update(self, name: str, text: str, actor: Actor) -> Definition:
        profile = self._parse(text)
        if profile.name != name:
            raise GatewayError(
                422,
                f"name: a profile keeps its name ('{name}'); clone it to use another",
                code="invalid_profile",
                param="name",
            )
        return await self._change(actor, Action.profile_update, name, lambda _: profile)

    async def clone(self, name: str, new_name: str, actor: Actor) -> Definition:
        """A copy under `new_name`, without the aliases (they belong to the original)."""

        def copy(before: dict[str, Any] | None) -> Profile:
            if before is None:
                raise _not_found(name)
            document = {**before, "name": new_name}
            document.pop("aliases", None)
            try:
                return validate_profile(document)
            except ProfileInvalid as exc:
                raise invalid(exc) from exc

        return await self._change(actor, Action.profile_create, new_name, copy, source=name)

    async def delete(self, name: str, actor: Actor) -> None:
        await self._change(actor, Action.profile_delete, name, lambda _: None)

    def _parse(self, text: str) -> Profile:
        self._refuse_file()
        try:
            return parse_profile(text)
        except ProfileInvalid as exc:
            raise invalid(exc) from exc

    def _refuse_file(self) -> None:
        if not self.editable:
            raise GatewayError(
                409,
                "Profiles come from the profiles file (GPUCHAT_PROFILES_SOURCE=file)",
                code="profiles_read_only",
            )

    async def _change(
        self,
        actor: Actor,
        action: Action,
        target: str,
        build: Callable[[dict[str, Any] | None], Profile | None],
        *,
        source: str | None = None,
    ) -> Definition:
        """`build` gets the stored document of `source` (default: `target`) and returns the
        new profile (None: delete `target`)."""
        self._refuse_file()
        async with self._lock, session_scope(self._sessions) as session:
            revision = await repo.next_revision(session)  # first: it orders the changes
            rows = list(await repo.list_all(session))
            by_name = {row.name: row for row in rows}
            origin = by_name.get(source or target)
            profile = build(origin.document if origin is not None else None)
            row = by_name.get(target)
            before = row.document if row is not None else None
            after = document_of(profile) if profile is not None else None
            if action is Action.profile_create and row is not None:
                raise GatewayError(409, f"A profile '{target}' exists", code="profile_exists")
            if action is not Action.profile_create and row is None:
                raise _not_found(target)
            if row is None:
                assert after is not None
                try:
                    row = await repo.add(session, target, after, user_id=actor.user_id)
                except IntegrityError as exc:  # another process took the name just now
                    raise GatewayError(
                        409, f"A profile '{target}' exists", code="profile_exists"
                    ) from exc
                rows.append(row)
            elif after is None:
                await repo.delete(session, row)
                rows.remove(row)
            else:
                repo.update(row, after, user_id=actor.user_id)
            await self._apply(rows, revision)
            # Every profile change is audited here, in the change's own transaction.
            record(session, actor, action, Target("profile", target, target), before, after)
            return Definition(target, after or {}, row.updated, row.updated_by)

    async def _apply(self, rows: list[ProfileDefinition], revision: int) -> None:
        try:
            active: str | None = self._engines.profile_for("default").name
        except UnknownModel:
            active = None
        try:
            profiles = profile_set(rows, active)
        except ProfileInvalid as exc:
            raise invalid(exc) from exc
        # A refusal (ControlRefused: it runs) rolls the transaction back; the route turns it
        # into the error envelope like the other engine-control errors.
        await self._engines.replace_profiles(profiles, revision=revision)


def definition_text(definition: Definition) -> str:
    return to_yaml(definition.document)
