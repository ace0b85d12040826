"""Users, and who is calling (`Principal`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gpuchat.core import security
from gpuchat.core.security import Principal, Role
from gpuchat.db.models import RevokedSession, User, utcnow
from gpuchat.db.repositories import groups


def normalise_email(email: str) -> str:
    return email.strip().lower()


def escape_like(text: str) -> str:
    """Search text is literal: SQL wildcards and the escape character are just characters."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == normalise_email(email)))


async def create_user(
    session: AsyncSession,
    email: str,
    password: str,
    *,
    admin: bool = False,
    limits: dict[str, Any] | None = None,
) -> User:
    user = User(
        email=normalise_email(email),
        password_hash=await security.hash_password_async(password),
        role=Role.admin if admin else Role.user,
        settings={},
        limits=limits,
        token_version=0,
    )
    session.add(user)
    await session.flush()
    return user


async def list_users(
    session: AsyncSession, *, query: str | None, limit: int, offset: int
) -> tuple[Sequence[User], int]:
    statement = select(User)
    if query:
        statement = statement.where(User.email.ilike(f"%{escape_like(query)}%", escape="\\"))
    total = await session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = await session.scalars(statement.order_by(User.id).limit(limit).offset(offset))
    return rows.all(), total


async def count_active_admins(session: AsyncSession) -> int:
    statement = select(func.count()).where(User.role == Role.admin, User.disabled.is_(False))
    return await session.scalar(statement) or 0


async def set_password(user: User, password: str) -> None:
    """New hash, and every session issued before is void."""
    user.password_hash = await security.hash_password_async(password)
    user.token_version += 1


async def principal_for_session(
    session: AsyncSession, claims: security.SessionClaims
) -> Principal | None:
    """The caller behind a session token, if the user still exists, is enabled, has not
    changed password or logged out everywhere since the token was issued, and this session
    was not logged out. Role is read fresh on every request."""
    user = await session.get(User, claims.user_id)
    if user is None or user.disabled or user.token_version != claims.version:
        return None
    if await session.get(RevokedSession, claims.session_id) is not None:
        return None
    models, group_limits = await groups.access_of(session, user.id)
    return Principal(
        user.id,
        user.email,
        user.role,
        limits=user.limits,
        group_models=models,
        group_limits=group_limits,
    )


async def revoke_session(session: AsyncSession, claims: security.SessionClaims) -> None:
    """End one session before its expiry (logout). Rows of expired tokens go at the same
    time: an expired token is refused anyway."""
    await session.execute(delete(RevokedSession).where(RevokedSession.expires < utcnow()))
    if await session.get(RevokedSession, claims.session_id) is None:
        session.add(
            RevokedSession(
                session_id=claims.session_id, user_id=claims.user_id, expires=claims.expires
            )
        )


def end_all_sessions(user: User) -> None:
    """Every session token of the user stops at its next request (log out everywhere)."""
    user.token_version += 1
