"""Admin: stored benchmark results (the automatic ones after a switch, and `gpuchat bench`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gpuchat.api.deps import AdminPrincipal, SessionDep
from gpuchat.schemas.benchmarks import BenchmarksPublic
from gpuchat.services.benchmarks import list_benchmarks

router = APIRouter(prefix="/api/admin/benchmarks", tags=["admin"])


@router.get("")
async def benchmarks(
    _: AdminPrincipal,
    session: SessionDep,
    profile: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> BenchmarksPublic:
    """Newest first."""
    return BenchmarksPublic(data=await list_benchmarks(session, profile=profile, limit=limit))
