"""Choices made at run time and kept in the database (`runtime_settings`)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from gpuchat.db.models import RuntimeSetting, utcnow

ACTIVE_PROFILE = "active_profile"


async def get(session: AsyncSession, name: str) -> str | None:
    row = await session.get(RuntimeSetting, name)
    return row.value if row is not None else None


async def put(session: AsyncSession, name: str, value: str, *, user_id: int | None) -> None:
    row = await session.get(RuntimeSetting, name)
    if row is None:
        session.add(RuntimeSetting(name=name, value=value, updated_by=user_id))
    else:
        row.value, row.updated_by, row.updated = value, user_id, utcnow()
