"""The signed-in user's own account."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from gpuchat.api.deps import CurrentPrincipal, CurrentUser, SessionDep, StateDep
from gpuchat.api.routes.auth import issue_session
from gpuchat.core.errors import GatewayError
from gpuchat.schemas.usage import Moment, StatusFilter, UsageReport
from gpuchat.schemas.users import PasswordChange, SessionPublic, UserPublic, UserSettings
from gpuchat.services.accounts import access
from gpuchat.services.usage.report import UsageFilter, build_report, parse_range

router = APIRouter(prefix="/api/me", tags=["me"])


@router.get("")
async def read_me(user: CurrentUser) -> UserPublic:
    return UserPublic.model_validate(user)


@router.patch("/settings")
async def update_settings(body: UserSettings, user: CurrentUser, session: SessionDep) -> UserPublic:
    user.settings = {**(user.settings or {}), **body.model_dump(exclude_unset=True)}
    await session.commit()
    return UserPublic.model_validate(user)


@router.post("/password", responses={400: {}, 403: {}, 429: {}})
async def change_password(
    body: PasswordChange, principal: CurrentPrincipal, state: StateDep, response: Response
) -> SessionPublic:
    """Every other session ends; this one continues with a fresh token. Wrong current
    passwords are throttled like logins."""
    if principal.api_key_id is not None:
        raise GatewayError(403, "An API key cannot change the password", code="session_required")
    user = await access.change_password(
        state.sessions,
        state.limiter,
        state.settings,
        principal.user_id,
        body.current_password,
        body.new_password,
    )
    return issue_session(response, user, state.settings)


@router.get("/usage")
async def my_usage(
    principal: CurrentPrincipal,
    state: StateDep,
    start: Annotated[Moment, Query(alias="from")] = None,
    end: Annotated[Moment, Query(alias="to")] = None,
    model: Annotated[str | None, Query(max_length=128)] = None,
    status: StatusFilter = None,
    group_by: Literal["model", "day", "hour"] = "day",
) -> UsageReport:
    """The caller's own usage (web chat and API keys together), grouped by day or model."""
    begin, finish = parse_range(start, end)
    where = UsageFilter(begin, finish, (principal.user_id,), None, model or None, status or None)
    return await build_report(state.sessions, where, group_by)
