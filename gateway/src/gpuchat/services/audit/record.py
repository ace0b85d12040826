"""Recording an admin action: `record(session, actor, action, target, before, after)`.

Call it with the session that makes the change, before that session commits: the entry is
written in the same transaction, so an action that fails (or rolls back) leaves no entry,
and one that succeeds always has one. Any service may call it (a route builds the `Actor`
with the `AuditActor` dependency; a `gpuchat` command uses `Actor.cli()`).

`before` and `after` are reduced to the fields that differ, and fields that name a secret
(password, hash, digest, token, key material) are dropped whatever the caller passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from gpuchat.db.models import AuditEntry


class Action(StrEnum):
    """The stable action codes (stored, filtered by prefix, shown in the web UI)."""

    user_create = "user.create"
    user_role = "user.role"
    user_disable = "user.disable"
    user_enable = "user.enable"
    user_limits = "user.limits"
    user_password_reset = "user.password_reset"  # noqa: S105 - an action code
    key_create = "key.create"
    key_revoke = "key.revoke"
    profile_create = "profile.create"  # also a clone: `before` is None
    profile_update = "profile.update"
    profile_delete = "profile.delete"
    engine_switch = "engine.switch"
    engine_stop = "engine.stop"
    stream_stop = "stream.stop"
    filter_update = "filter.update"
    setting_change = "setting.change"
    group_create = "group.create"
    group_update = "group.update"
    group_delete = "group.delete"
    group_member_add = "group.member_add"
    group_member_remove = "group.member_remove"


CLI_ACTOR: Final = "cli"

# A field named like a secret is never stored, before or after (`tokens_per_day` is not).
_SECRET_NAMES: Final = frozenset({"password", "token", "key", "api_key", "sha256", "secret"})
_SECRET_ENDINGS: Final = ("password", "_hash", "_digest", "_secret", "_token", "sha256")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts, and from where. `email` is kept as it is now: the log must still say who
    it was after the user changes email or is gone."""

    user_id: int | None
    email: str
    request_id: str | None = None
    client_ip: str | None = None

    @classmethod
    def cli(cls) -> Actor:
        """A `gpuchat` command run on the server (whoever has a shell there)."""
        return cls(user_id=None, email=CLI_ACTOR)


@dataclass(frozen=True, slots=True)
class Target:
    type: str  # "user", "key", "profile", "filters", "setting", "stream", "group"
    id: str | int | None = None
    name: str | None = None


def is_secret(field: str) -> bool:
    lowered = field.lower()
    return lowered in _SECRET_NAMES or lowered.endswith(_SECRET_ENDINGS)


def changed(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Only the fields whose value differs, without secrets; None for an empty side."""
    old = {k: v for k, v in (before or {}).items() if not is_secret(k)}
    new = {k: v for k, v in (after or {}).items() if not is_secret(k)}
    fields = [k for k in dict.fromkeys([*old, *new]) if old.get(k) != new.get(k)]
    kept_old = {k: old[k] for k in fields if k in old}
    kept_new = {k: new[k] for k in fields if k in new}
    return kept_old or None, kept_new or None


def record(
    session: AsyncSession,
    actor: Actor,
    action: Action | str,
    target: Target,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add the entry to `session` (written when it flushes, kept when it commits)."""
    old, new = changed(before, after)
    entry = AuditEntry(
        actor_id=actor.user_id,
        actor_email=actor.email[:320],
        action=str(action),
        target_type=target.type,
        target_id=None if target.id is None else str(target.id)[:128],
        target_name=None if target.name is None else target.name[:320],
        before=old,
        after=new,
        request_id=actor.request_id,
        client_ip=actor.client_ip,
    )
    session.add(entry)
    return entry
