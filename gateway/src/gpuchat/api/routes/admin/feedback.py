"""Admin: feedback on answers, with the turn each is about; the same rows as a CSV."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.responses import StreamingResponse

from gpuchat.api.deps import AdminPrincipal, SessionDep, StateDep
from gpuchat.schemas.feedback import FeedbackPage, RatingFilter
from gpuchat.schemas.usage import Moment
from gpuchat.services.feedback import FeedbackFilter, csv_chunks, export_filename, feedback_page
from gpuchat.services.usage.report import parse_range

router = APIRouter(prefix="/api/admin", tags=["admin"])


async def feedback_filter(
    _: AdminPrincipal,
    rating: RatingFilter = None,
    model: Annotated[str | None, Query(max_length=128, description="model alias")] = None,
    profile: Annotated[str | None, Query(max_length=64)] = None,
    start: Annotated[Moment, Query(alias="from")] = None,
    end: Annotated[Moment, Query(alias="to")] = None,
    has_comment: bool | None = None,
) -> FeedbackFilter:
    begin, finish = parse_range(start, end)
    return FeedbackFilter(rating, model or None, profile or None, begin, finish, has_comment)


FilterDep = Annotated[FeedbackFilter, Depends(feedback_filter)]


@router.get("/feedback")
async def list_feedback(
    where: FilterDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> FeedbackPage:
    """Newest first; each with the question and the answer it rates (their beginnings)."""
    return await feedback_page(session, where, limit=limit, offset=offset)


@router.get(
    "/feedback.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def feedback_csv_export(where: FilterDep, state: StateDep) -> StreamingResponse:
    """Every matching row, oldest first, with the whole question and answer, streamed."""
    return StreamingResponse(
        csv_chunks(state.sessions, where),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{export_filename(where)}"'},
    )
