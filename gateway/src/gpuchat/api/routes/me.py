"""The signed-in user's own account."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from starlette.responses import StreamingResponse

from gpuchat.api.deps import CurrentPrincipal, CurrentUser, SessionDep, StateDep
from gpuchat.api.routes.auth import issue_session
from gpuchat.core.errors import GatewayError
from gpuchat.db.repositories import groups
from gpuchat.schemas.usage import Bucket, Moment, MyQuota, StatusFilter, UsageReport, UsageSeries
from gpuchat.schemas.users import PasswordChange, SessionPublic, UserPublic, UserSettings
from gpuchat.services.accounts import access
from gpuchat.services.limits.my_quota import my_quota
from gpuchat.services.usage.csv_export import csv_chunks, export_filename
from gpuchat.services.usage.report import UsageFilter, build_report, parse_range
from gpuchat.services.usage.series import build_series

router = APIRouter(prefix="/api/me", tags=["me"])


@router.get("")
async def read_me(user: CurrentUser, session: SessionDep) -> UserPublic:
    names = await groups.names_by_user(session, [user.id])
    return UserPublic.model_validate(user).model_copy(update={"groups": names.get(user.id, [])})


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


async def my_filter(
    principal: CurrentPrincipal,
    start: Annotated[Moment, Query(alias="from")] = None,
    end: Annotated[Moment, Query(alias="to")] = None,
    model: Annotated[str | None, Query(max_length=128)] = None,
    status: StatusFilter = None,
) -> UsageFilter:
    """The caller's own rows only (the web chat and every API key of theirs). An API key may
    read its owner's usage, as LiteLLM lets a key read its own spend: a script can see how
    much of the quota is left. It reads, it cannot change anything."""
    begin, finish = parse_range(start, end)
    return UsageFilter(begin, finish, (principal.user_id,), None, model or None, status or None)


MyFilterDep = Annotated[UsageFilter, Depends(my_filter)]


@router.get("/usage")
async def my_usage(
    where: MyFilterDep, state: StateDep, group_by: Literal["model", "day", "hour"] = "day"
) -> UsageReport:
    """The caller's own usage (web chat and API keys together), grouped by day or model."""
    return await build_report(state.sessions, where, group_by)


@router.get("/usage/series", responses={422: {}})
async def my_usage_series(
    where: MyFilterDep, state: StateDep, bucket: Bucket = "day"
) -> UsageSeries:
    """The caller's own usage per UTC hour or day, one series per model (for the charts)."""
    return await build_series(state.sessions, where, bucket)


@router.get(
    "/usage.csv", response_class=StreamingResponse, responses={200: {"content": {"text/csv": {}}}}
)
async def my_usage_csv(where: MyFilterDep, state: StateDep) -> StreamingResponse:
    """The caller's own usage rows, oldest first, streamed."""
    return StreamingResponse(
        csv_chunks(state.sessions, where),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{export_filename(where)}"'},
    )


@router.get("/quota")
async def my_quota_now(principal: CurrentPrincipal, state: StateDep) -> MyQuota:
    """Requests and tokens this UTC day and month, the quotas, what is left and when it resets."""
    return await my_quota(
        state.sessions,
        state.limits.policy_for(principal),  # the defaults, the user's groups, their own
        None,
        principal.user_id,
        datetime.now(UTC),
    )
