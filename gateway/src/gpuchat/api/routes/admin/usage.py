"""Admin: usage reports over every user, and the same rows as a CSV download."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.responses import StreamingResponse

from gpuchat.api.deps import AdminPrincipal, StateDep
from gpuchat.schemas.usage import Bucket, GroupBy, Moment, StatusFilter, UsageReport, UsageSeries
from gpuchat.services.usage.csv_export import csv_chunks, export_filename
from gpuchat.services.usage.report import (
    UsageFilter,
    build_report,
    narrow,
    parse_range,
    resolve_group,
    resolve_key,
    resolve_user,
)
from gpuchat.services.usage.series import build_series

router = APIRouter(prefix="/api/admin", tags=["admin"])


async def usage_filter(
    state: StateDep,
    start: Annotated[Moment, Query(alias="from")] = None,
    end: Annotated[Moment, Query(alias="to")] = None,
    user: Annotated[str | None, Query(max_length=320, description="user id or email")] = None,
    group: Annotated[
        str | None, Query(max_length=64, description="group id or name (its members now)")
    ] = None,
    key: Annotated[str | None, Query(max_length=64, description="API key id or prefix")] = None,
    model: Annotated[str | None, Query(max_length=128)] = None,
    status: StatusFilter = None,
) -> UsageFilter:
    begin, finish = parse_range(start, end)
    async with state.sessions() as session:  # not held while a CSV streams
        user_ids = narrow(await resolve_user(session, user), await resolve_group(session, group))
        key_ids = await resolve_key(session, key)
    return UsageFilter(begin, finish, user_ids, key_ids, model or None, status or None)


FilterDep = Annotated[UsageFilter, Depends(usage_filter)]


@router.get("/usage")
async def usage(
    _: AdminPrincipal, where: FilterDep, state: StateDep, group_by: GroupBy = "day"
) -> UsageReport:
    """Totals and groups (by user, group, model, day or hour) with p50/p95 TTFT and
    latency. By group, a user in two groups counts in both (the totals count once)."""
    return await build_report(state.sessions, where, group_by)


@router.get("/usage/series", responses={422: {}})
async def usage_series(
    _: AdminPrincipal, where: FilterDep, state: StateDep, bucket: Bucket = "day"
) -> UsageSeries:
    """Requests, tokens, errors and TTFT p95 per UTC hour or day, one series per model."""
    return await build_series(state.sessions, where, bucket)


@router.get(
    "/usage.csv", response_class=StreamingResponse, responses={200: {"content": {"text/csv": {}}}}
)
async def usage_csv_export(
    _: AdminPrincipal, where: FilterDep, state: StateDep
) -> StreamingResponse:
    """Every matching row, oldest first, streamed."""
    name = export_filename(where)
    return StreamingResponse(
        csv_chunks(state.sessions, where),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
