"""Model profiles as administrators wrote them (`profile_definitions`), in list order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gpuchat.db.models import ProfileDefinition, utcnow


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
