"""Admin: the forbidden-word list. A user message containing one of these words is refused
with 400 `content_filtered` on `/v1` and `/api/chat` (matching ignores case)."""

from __future__ import annotations

from fastapi import APIRouter

from gpuchat.api.deps import AdminPrincipal, AuditActor, StateDep
from gpuchat.schemas.filters import ForbiddenWordsPublic

router = APIRouter(prefix="/api/admin/filters", tags=["admin"])


@router.get("")
async def read_filters(_: AdminPrincipal, state: StateDep) -> ForbiddenWordsPublic:
    await state.filters.load()
    return ForbiddenWordsPublic(words=list(state.filters.words))


@router.put("")
async def replace_filters(
    body: ForbiddenWordsPublic, actor: AuditActor, state: StateDep
) -> ForbiddenWordsPublic:
    """Replace the whole list (an empty list switches the filter off). The audit log keeps
    the words added and removed."""
    return ForbiddenWordsPublic(words=list(await state.filters.replace(body.words, actor)))
