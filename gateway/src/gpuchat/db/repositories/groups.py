"""Groups of users and their memberships.

A user's groups decide two things at each request (`access_of`): the models the user may
use (the union of the groups' lists; a group with an empty list allows every model, and so
does being in no group) and the limits each group sets (the most generous of them applies:
`services/limits/quotas.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gpuchat.db.models import Group, GroupMember, User


def allowed_models(groups: Iterable[Group]) -> tuple[str, ...] | None:
    """The models a member of all of `groups` may use; None: every model."""
    names: set[str] = set()
    empty = True
    for group in groups:
        empty = False
        if not group.models:
            return None
        names.update(group.models)
    return None if empty else tuple(sorted(names))


async def groups_of(session: AsyncSession, user_id: int) -> Sequence[Group]:
    statement = (
        select(Group)
        .join(GroupMember, GroupMember.group_id == Group.id)
        .where(GroupMember.user_id == user_id)
        .order_by(Group.name)
    )
    return (await session.scalars(statement)).all()


async def access_of(
    session: AsyncSession, user_id: int
) -> tuple[tuple[str, ...] | None, tuple[dict[str, Any], ...]]:
    """The models the user's groups allow (None: all) and each group's limits."""
    groups = await groups_of(session, user_id)
    return allowed_models(groups), tuple(dict(g.limits or {}) for g in groups)


async def list_groups(session: AsyncSession) -> list[tuple[Group, int]]:
    """Every group (by name) with its number of members."""
    counts = (
        select(GroupMember.group_id, func.count().label("members"))
        .group_by(GroupMember.group_id)
        .subquery()
    )
    statement = (
        select(Group, func.coalesce(counts.c.members, 0))
        .outerjoin(counts, counts.c.group_id == Group.id)
        .order_by(Group.name)
    )
    return [(group, int(members)) for group, members in (await session.execute(statement)).all()]


async def get_by_name(session: AsyncSession, name: str) -> Group | None:
    return await session.scalar(select(Group).where(Group.name == name))


async def members(session: AsyncSession, group_id: int) -> Sequence[User]:
    statement = (
        select(User)
        .join(GroupMember, GroupMember.user_id == User.id)
        .where(GroupMember.group_id == group_id)
        .order_by(User.email)
    )
    return (await session.scalars(statement)).all()


async def member_ids(session: AsyncSession, group_ids: Iterable[int]) -> tuple[int, ...]:
    statement = select(GroupMember.user_id).where(GroupMember.group_id.in_(list(group_ids)))
    return tuple(sorted(set((await session.scalars(statement)).all())))


async def names_by_user(
    session: AsyncSession, user_ids: Iterable[int] | None = None
) -> dict[int, list[str]]:
    """Each user's group names (sorted); only `user_ids` when given."""
    statement = select(GroupMember.user_id, Group.name).join(
        Group, Group.id == GroupMember.group_id
    )
    if user_ids is not None:
        statement = statement.where(GroupMember.user_id.in_(list(user_ids)))
    result: dict[int, list[str]] = {}
    for user_id, name in (await session.execute(statement.order_by(Group.name))).all():
        result.setdefault(user_id, []).append(name)
    return result


async def add_member(session: AsyncSession, group_id: int, user_id: int) -> bool:
    """Add the user to the group; False when already a member."""
    if await session.get(GroupMember, (group_id, user_id)) is not None:
        return False
    session.add(GroupMember(group_id=group_id, user_id=user_id))
    await session.flush()
    return True


async def remove_member(session: AsyncSession, group_id: int, user_id: int) -> bool:
    """Take the user out of the group; False when not a member."""
    member = await session.get(GroupMember, (group_id, user_id))
    if member is None:
        return False
    await session.delete(member)
    await session.flush()
    return True


async def set_memberships(session: AsyncSession, user_id: int, group_ids: Iterable[int]) -> None:
    """The user is in exactly these groups afterwards."""
    wanted = set(group_ids)
    current = set(
        (
            await session.scalars(
                select(GroupMember.group_id).where(GroupMember.user_id == user_id)
            )
        ).all()
    )
    gone = current - wanted
    if gone:
        await session.execute(
            delete(GroupMember).where(
                GroupMember.user_id == user_id, GroupMember.group_id.in_(gone)
            )
        )
    session.add_all(GroupMember(group_id=g, user_id=user_id) for g in wanted - current)
    await session.flush()


async def ids_by_name(session: AsyncSession, names: Iterable[str]) -> dict[str, int]:
    statement = select(Group.name, Group.id).where(Group.name.in_(list(set(names))))
    return {name: group_id for name, group_id in (await session.execute(statement)).all()}
