"""Admin: groups of users, the models each may use and its limits, and their members."""

from __future__ import annotations

from fastapi import APIRouter

from gpuchat.api.deps import AdminPrincipal, AuditActor, SessionDep, StateDep
from gpuchat.db.models import Group
from gpuchat.db.repositories import groups as repository
from gpuchat.schemas.common import PathId
from gpuchat.schemas.groups import (
    GroupCreate,
    GroupDetail,
    GroupMemberPublic,
    GroupPublic,
    GroupsPublic,
    GroupUpdate,
)
from gpuchat.services.accounts import groups
from gpuchat.state import AppState

router = APIRouter(prefix="/api/admin/groups", tags=["admin"])


def _known_models(state: AppState) -> set[str]:
    return {name for s in state.engines.statuses() for name in (s.name, *s.aliases)}


async def _detail(session: SessionDep, group: Group) -> GroupDetail:
    rows = await repository.members(session, group.id)
    members = [GroupMemberPublic.model_validate(u) for u in rows]
    public = GroupPublic.model_validate(group).model_dump()
    return GroupDetail(**{**public, "member_count": len(members)}, members=members)


@router.get("")
async def list_groups(_: AdminPrincipal, session: SessionDep) -> GroupsPublic:
    rows = await repository.list_groups(session)
    data = [
        GroupPublic.model_validate(group).model_copy(update={"member_count": count})
        for group, count in rows
    ]
    return GroupsPublic(data=data, total=len(data))


@router.post("", status_code=201, responses={409: {}})
async def create_group(
    body: GroupCreate, actor: AuditActor, session: SessionDep, state: StateDep
) -> GroupDetail:
    group = await groups.create_group(session, actor, body, _known_models(state))
    return await _detail(session, group)


@router.get("/{group_id}", responses={404: {}})
async def read_group(group_id: PathId, _: AdminPrincipal, session: SessionDep) -> GroupDetail:
    return await _detail(session, await groups.get_group(session, group_id))


@router.patch("/{group_id}", responses={404: {}, 409: {}})
async def update_group(
    group_id: PathId, body: GroupUpdate, actor: AuditActor, session: SessionDep, state: StateDep
) -> GroupDetail:
    group = await groups.get_group(session, group_id)
    known = _known_models(state)
    await groups.update_group(session, state.principals, actor, group, body, known)
    return await _detail(session, group)


@router.delete("/{group_id}", status_code=204, responses={404: {}})
async def delete_group(
    group_id: PathId, actor: AuditActor, session: SessionDep, state: StateDep
) -> None:
    """The group goes; its members stay (they lose what it gave them at once)."""
    group = await groups.get_group(session, group_id)
    await groups.delete_group(session, state.principals, actor, group)


@router.put("/{group_id}/members/{user_id}", status_code=204, responses={404: {}})
async def add_member(
    group_id: PathId, user_id: PathId, actor: AuditActor, session: SessionDep, state: StateDep
) -> None:
    group = await groups.get_group(session, group_id)
    await groups.change_membership(session, state.principals, actor, group, user_id, add=True)


@router.delete("/{group_id}/members/{user_id}", status_code=204, responses={404: {}})
async def remove_member(
    group_id: PathId, user_id: PathId, actor: AuditActor, session: SessionDep, state: StateDep
) -> None:
    group = await groups.get_group(session, group_id)
    await groups.change_membership(session, state.principals, actor, group, user_id, add=False)
