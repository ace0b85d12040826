"""First start: make sure someone can log in."""

from __future__ import annotations

import sys

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gpuchat.core import security
from gpuchat.core.config import Settings
from gpuchat.core.db import session_scope
from gpuchat.db.models import User
from gpuchat.db.repositories.users import create_user


async def ensure_first_admin(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """With no users at all, create the admin from settings; print a generated password once."""
    async with session_scope(sessions) as session:
        if await session.scalar(select(func.count()).select_from(User)):
            return
        given = settings.admin_password.get_secret_value() if settings.admin_password else None
        password = given or security.new_password()
        await create_user(session, settings.admin_email, password, admin=True)
    if given is None:
        # Shown once, on the console only: never in the structured log.
        print(
            f"\n  First admin created: {settings.admin_email}"
            f"\n  Password (shown once): {password}\n",
            file=sys.stderr,
            flush=True,
        )
