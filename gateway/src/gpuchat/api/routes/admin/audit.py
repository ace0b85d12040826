"""Admin: the audit log (who changed what, when, from where), as pages or a CSV download."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.responses import StreamingResponse

from gpuchat.api.deps import AdminPrincipal, SessionDep, StateDep
from gpuchat.schemas.audit import (
    ActionPrefix,
    ActorFilter,
    AuditEntryPublic,
    AuditLogPublic,
    TargetFilter,
)
from gpuchat.schemas.usage import Moment
from gpuchat.services.audit.log import (
    AuditFilter,
    csv_chunks,
    export_filename,
    list_entries,
    parse_window,
)

router = APIRouter(prefix="/api/admin", tags=["admin"])


async def audit_filter(
    _: AdminPrincipal,
    actor: ActorFilter = None,
    action: ActionPrefix = None,
    target: TargetFilter = None,
    since: Moment = None,
    until: Moment = None,
) -> AuditFilter:
    begin, end = parse_window(since, until)
    return AuditFilter(actor or None, action or None, target or None, begin, end)


FilterDep = Annotated[AuditFilter, Depends(audit_filter)]


@router.get("/audit")
async def audit_log(
    where: FilterDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> AuditLogPublic:
    """Newest first; `total` counts every match."""
    rows, total = await list_entries(session, where, limit=limit, offset=offset)
    return AuditLogPublic(data=[AuditEntryPublic.model_validate(r) for r in rows], total=total)


@router.get(
    "/audit.csv", response_class=StreamingResponse, responses={200: {"content": {"text/csv": {}}}}
)
async def audit_csv_export(where: FilterDep, state: StateDep) -> StreamingResponse:
    """Every matching entry, oldest first, streamed."""
    return StreamingResponse(
        csv_chunks(state.sessions, where),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{export_filename(where)}"'},
    )
