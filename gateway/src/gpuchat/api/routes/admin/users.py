"""Admin: users. Every route requires the admin role, read fresh on each request."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy.exc import IntegrityError

from gpuchat.api.deps import AdminPrincipal, AuditActor, SessionDep, StateDep
from gpuchat.core import security
from gpuchat.core.errors import GatewayError
from gpuchat.core.security import Role
from gpuchat.db.models import User
from gpuchat.db.repositories import groups, users
from gpuchat.schemas.common import PathId
from gpuchat.schemas.users import (
    PasswordReset,
    PasswordResetDone,
    UserCreate,
    UserCreated,
    UserPublic,
    UsersPublic,
    UserUpdate,
)
from gpuchat.services.audit.record import Action, Actor, Target, record

router = APIRouter(prefix="/api/admin/users", tags=["admin"])


@router.get("")
async def list_users(
    _: AdminPrincipal,
    session: SessionDep,
    q: Annotated[str | None, Query(max_length=320)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> UsersPublic:
    rows, total = await users.list_users(session, query=q, limit=limit, offset=offset)
    names = await groups.names_by_user(session, [u.id for u in rows])
    return UsersPublic(data=[_public(u, names.get(u.id, [])) for u in rows], total=total)


def _public(user: User, group_names: list[str]) -> UserPublic:
    return UserPublic.model_validate(user).model_copy(update={"groups": group_names})


@router.post("", status_code=201, responses={409: {}})
async def create_user(body: UserCreate, actor: AuditActor, session: SessionDep) -> UserCreated:
    password = body.password or security.new_password()
    limits = body.limits.model_dump(exclude_none=True) if body.limits else None
    try:
        user = await users.create_user(
            session, body.email, password, admin=body.role == Role.admin, limits=limits
        )
        record(session, actor, Action.user_create, _target(user), None, _audited(user))
        await session.commit()
    except IntegrityError as exc:
        raise GatewayError(
            409, "A user with this email already exists", code="email_taken", param="email"
        ) from exc
    return UserCreated(
        user=UserPublic.model_validate(user), password=None if body.password else password
    )


def _target(user: User) -> Target:
    return Target("user", user.id, user.email)


def _audited(user: User) -> dict[str, Any]:
    """What the audit log shows of a user (never the password hash)."""
    return {
        "email": user.email,
        "role": user.role,
        "disabled": user.disabled,
        "limits": user.limits,
    }


def _record_update(session: SessionDep, actor: Actor, user: User, old: dict[str, Any]) -> None:
    """One entry per kind of change a PATCH made (none for a field set to its own value)."""
    new, target = _audited(user), _target(user)
    if old["role"] != new["role"]:
        record(
            session, actor, Action.user_role, target, {"role": old["role"]}, {"role": new["role"]}
        )
    if old["disabled"] != new["disabled"]:
        action = Action.user_disable if new["disabled"] else Action.user_enable
        record(
            session,
            actor,
            action,
            target,
            {"disabled": old["disabled"]},
            {"disabled": new["disabled"]},
        )
    if old["limits"] != new["limits"]:
        # Only the limits that changed; one set back to the default shows as gone.
        record(session, actor, Action.user_limits, target, old["limits"], new["limits"])


async def _user(session: SessionDep, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise GatewayError(404, "User not found", code="user_not_found")
    return user


@router.patch("/{user_id}", responses={404: {}, 409: {}})
async def update_user(
    user_id: PathId, body: UserUpdate, actor: AuditActor, session: SessionDep, state: StateDep
) -> UserPublic:
    user = await _user(session, user_id)
    old = _audited(user)
    changes = body.model_dump(exclude_unset=True)
    loses_admin = (
        user.role == Role.admin
        and not user.disabled
        and (changes.get("role") == Role.user or changes.get("disabled") is True)
    )
    if loses_admin and await users.count_active_admins(session) <= 1:
        raise GatewayError(
            409, "The last active admin cannot be demoted or disabled", code="last_admin"
        )
    if "limits" in changes:
        user.limits = body.limits.model_dump(exclude_none=True) if body.limits else None
    for field in ("role", "disabled"):
        if changes.get(field) is not None:
            setattr(user, field, changes[field])
    _record_update(session, actor, user, old)
    await session.commit()
    state.principals.forget_user(user.id)
    names = await groups.names_by_user(session, [user.id])
    return _public(user, names.get(user.id, []))


@router.post("/{user_id}/password", responses={404: {}, 409: {}})
async def reset_password(
    user_id: PathId, body: PasswordReset, actor: AuditActor, session: SessionDep
) -> PasswordResetDone:
    """Set (or generate) a new password; the user's sessions end at once. An account
    created by single sign-on has no password and gets none (409)."""
    user = await _user(session, user_id)
    if user.password_hash is None:
        raise GatewayError(
            409, "This account signs in with single sign-on and has no password", code="no_password"
        )
    password = body.password or security.new_password()
    await users.set_password(user, password)
    generated = body.password is None
    record(
        session, actor, Action.user_password_reset, _target(user), None, {"generated": generated}
    )
    await session.commit()
    return PasswordResetDone(password=None if body.password else password)
