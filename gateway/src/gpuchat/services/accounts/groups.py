"""Groups: what an admin creates and changes, and the one call that sets a user's groups
from a list of names (an identity provider's groups at sign-in).

Every change forgets the affected users' cached API-key callers (`principals.py`), so a
group's new models, limits or members count from the next request, like a revoked key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gpuchat.core.db import session_scope
from gpuchat.core.errors import GatewayError
from gpuchat.db.models import Group, User
from gpuchat.db.repositories import groups
from gpuchat.schemas.groups import GroupCreate, GroupUpdate
from gpuchat.services.accounts.principals import PrincipalCache
from gpuchat.services.audit.record import Action, Actor, Target, record


def check_models(models: list[str], known: set[str]) -> list[str]:
    """The group's models, each a profile name or alias that exists (422 otherwise),
    without repeats, in the order given."""
    for name in models:
        if name not in known:
            raise GatewayError(
                422, f"Unknown model '{name[:128]}'", code="unknown_model", param="models"
            )
    return list(dict.fromkeys(models))


def _name_taken() -> GatewayError:
    return GatewayError(409, "A group with this name exists", code="group_name_taken", param="name")


def _target(group: Group) -> Target:
    return Target("group", group.id, group.name)


def _audited(group: Group) -> dict[str, Any]:
    """What the audit log shows of a group."""
    return {
        "name": group.name,
        "description": group.description,
        "models": list(group.models),
        "limits": group.limits,
    }


async def get_group(session: AsyncSession, group_id: int) -> Group:
    group = await session.get(Group, group_id)
    if group is None:
        raise GatewayError(404, "Group not found", code="group_not_found")
    return group


async def create_group(
    session: AsyncSession, actor: Actor, body: GroupCreate, known: set[str]
) -> Group:
    group = Group(
        name=body.name,
        description=body.description,
        models=check_models(body.models, known),
        limits=body.limits.model_dump(exclude_none=True) if body.limits else None,
    )
    session.add(group)
    try:
        await session.flush()
        record(session, actor, Action.group_create, _target(group), None, _audited(group))
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise _name_taken() from exc
    return group


async def update_group(
    session: AsyncSession,
    principals: PrincipalCache,
    actor: Actor,
    group: Group,
    body: GroupUpdate,
    known: set[str],
) -> Group:
    members = await groups.member_ids(session, [group.id])  # before a change autoflushes
    old = _audited(group)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("name") is not None:
        group.name = changes["name"]
    if changes.get("description") is not None:
        group.description = changes["description"]
    if body.models is not None:
        # A model that no longer exists may stay; only new names must exist.
        added = [m for m in body.models if m not in group.models]
        check_models(added, known)
        group.models = list(dict.fromkeys(body.models))
    if "limits" in changes:
        group.limits = body.limits.model_dump(exclude_none=True) if body.limits else None
    try:
        await session.flush()
        if _audited(group) != old:
            record(session, actor, Action.group_update, _target(group), old, _audited(group))
        await session.commit()
    except IntegrityError as exc:
        await session.rollback()
        raise _name_taken() from exc
    principals.forget_users(members)
    return group


async def delete_group(
    session: AsyncSession, principals: PrincipalCache, actor: Actor, group: Group
) -> None:
    members = await groups.member_ids(session, [group.id])
    before = {**_audited(group), "member_count": len(members)}
    record(session, actor, Action.group_delete, _target(group), before, None)
    await session.delete(group)
    await session.commit()
    principals.forget_users(members)


async def change_membership(
    session: AsyncSession,
    principals: PrincipalCache,
    actor: Actor,
    group: Group,
    user_id: int,
    *,
    add: bool,
) -> None:
    """Add the user to the group or take them out (both idempotent, recorded only when
    something changed); 404 for no such user."""
    user = await session.get(User, user_id)
    if user is None:
        raise GatewayError(404, "User not found", code="user_not_found")
    if add:
        changed = await groups.add_member(session, group.id, user_id)
    else:
        changed = await groups.remove_member(session, group.id, user_id)
    if changed:
        action = Action.group_member_add if add else Action.group_member_remove
        member = {"member": user.email}
        record(
            session, actor, action, _target(group), None if add else member, member if add else None
        )
    await session.commit()
    principals.forget_user(user_id)


async def set_user_groups(
    sessions: async_sessionmaker[AsyncSession],
    principals: PrincipalCache,
    user_id: int,
    names: Iterable[str],
) -> list[str]:
    """Make the user a member of exactly the groups named (and of no other); returns their
    names. For single sign-on: call it at each sign-in with the provider's group names.

    Names that match no group are ignored, never created: a provider that sends a new name
    must not hand the user a new group with every model and no limits (the most generous
    group wins). An admin creates the groups that should count. Matching is exact (case
    and spaces count, after trimming the ends)."""
    wanted = {name.strip() for name in names if isinstance(name, str) and name.strip()}
    async with session_scope(sessions) as session:
        if await session.get(User, user_id) is None:
            raise GatewayError(404, "User not found", code="user_not_found")
        found = await groups.ids_by_name(session, wanted) if wanted else {}
        await groups.set_memberships(session, user_id, found.values())
    principals.forget_user(user_id)
    return sorted(found)
