"""Model profiles as administrators wrote them (`profile_definitions`), in list order, and
the set's revision (`profile_set_revision`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gpuchat.db.models import ProfileDefinition, ProfileSetRevision, utcnow


async def list_all(session: AsyncSession) -> Sequence[ProfileDefinition]:
    result = await session.scalars(select(ProfileDefinition).order_by(ProfileDefinition.id))
    return result.all()


async def count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(ProfileDefinition)) or 0)


async def get(session: AsyncSession, name: str) -> ProfileDefinition | None:
    return await session.scalar(select(ProfileDefinition).where(ProfileDefinition.name == name))


async def add(
    session: AsyncSession, name: str, document: dict[str, Any], *, user_id: int | None
) -> ProfileDefinition:
    row = ProfileDefinition(name=name, document=document, updated_by=user_id)
    session.add(row)
    await session.flush()  # a taken name fails here, inside the caller's transaction
    return row


def update(row: ProfileDefinition, document: dict[str, Any], *, user_id: int | None) -> None:
    row.document, row.updated_by, row.updated = document, user_id, utcnow()


async def delete(session: AsyncSession, row: ProfileDefinition) -> None:
    await session.delete(row)
    await session.flush()


async def next_revision(session: AsyncSession) -> int:
    """Raise the set's revision in the caller's transaction, first thing in a change: the
    row lock this takes holds a concurrent change back until this one commits, and that
    one then reads this one's rows (SQLite's write lock does the same)."""
    raised = await session.scalar(
        sa.update(ProfileSetRevision)
        .where(ProfileSetRevision.id == 1)
        .values(revision=ProfileSetRevision.revision + 1)
        .returning(ProfileSetRevision.revision)
    )
    if raised is None:  # the row the migration inserted is gone (a hand-edited database)
        session.add(ProfileSetRevision(id=1, revision=1))
        await session.flush()
        return 1
    return int(raised)


async def revision(session: AsyncSession) -> int:
    """The set's revision now (0: never changed)."""
    return int(await session.scalar(select(ProfileSetRevision.revision)) or 0)


async def raise_revision_above(session: AsyncSession, floor: int) -> int:
    """After a restore: a revision above both the restored one and `floor` (the replaced
    database's), so a supervisor that held the replaced set takes the restored one."""
    raised = max(await revision(session), floor) + 1
    await session.execute(
        sa.update(ProfileSetRevision).where(ProfileSetRevision.id == 1).values(revision=raised)
    )
    return raised
