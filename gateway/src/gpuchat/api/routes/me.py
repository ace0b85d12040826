"""The signed-in user's own account."""

from __future__ import annotations

from fastapi import APIRouter, Response

from gpuchat.api.deps import CurrentPrincipal, CurrentUser, SessionDep, StateDep
from gpuchat.api.routes.auth import issue_session
from gpuchat.core import security
from gpuchat.core.errors import GatewayError
from gpuchat.db.repositories import users
from gpuchat.schemas.users import PasswordChange, SessionPublic, UserPublic, UserSettings

router = APIRouter(prefix="/api/me", tags=["me"])


@router.get("")
async def read_me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


@router.patch("/settings")
async def update_settings(body: UserSettings, user: CurrentUser, session: SessionDep) -> UserPublic:
    user.settings = {**(user.settings or {}), **body.model_dump(exclude_unset=True)}
    await session.commit()
    return UserPublic.model_validate(user)


@router.post("/password", responses={400: {}, 403: {}})
async def change_password(
    body: PasswordChange,
    user: CurrentUser,
    principal: CurrentPrincipal,
    session: SessionDep,
    state: StateDep,
    response: Response,
) -> SessionPublic:
    """Every other session ends; this one continues with a fresh token."""
    if principal.api_key_id is not None:
        raise GatewayError(403, "An API key cannot change the password", code="session_required")
    if not await security.verify_password_async(body.current_password, user.password_hash):
        raise GatewayError(
            400, "The current password is wrong", code="wrong_password", param="current_password"
        )
    await users.set_password(user, body.new_password)
    await session.commit()
    return issue_session(response, user, state.settings)
