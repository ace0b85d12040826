"""Users and their API keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gpuchat.core import security
from gpuchat.db.models import ApiKey, Role, User


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the user, and the API key when one was used."""

    user_id: int
    email: str
    role: str
    api_key_id: int | None = None
    allowed_models: tuple[str, ...] | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == email.strip().lower()))


async def create_user(session: AsyncSession, email: str, password: str, *, admin: bool) -> User:
    user = User(
        email=email.strip().lower(),
        password_hash=security.hash_password(password),
        role=Role.admin if admin else Role.user,
        settings={},
    )
    session.add(user)
    await session.flush()
    return user


async def create_api_key(session: AsyncSession, user: User, name: str) -> tuple[ApiKey, str]:
    """Returns the stored key and the full secret, which is never stored or shown again."""
    secret = security.new_api_key()
    key = ApiKey(
        user_id=user.id,
        name=name,
        prefix=security.api_key_prefix(secret),
        sha256=security.api_key_digest(secret),
    )
    session.add(key)
    await session.flush()
    return key, secret


async def principal_for_api_key(session: AsyncSession, secret: str) -> Principal | None:
    """The caller behind a bearer key, or None if the key is unknown, revoked or expired."""
    digest = security.api_key_digest(secret)
    row = (
        await session.execute(
            select(ApiKey, User)
            .join(User, User.id == ApiKey.user_id)
            .where(ApiKey.sha256 == digest)
        )
    ).first()
    if row is None:
        return None
    key, user = row
    if not security.digests_match(key.sha256, digest) or key.revoked or user.disabled:
        return None
    if key.expires is not None and _aware(key.expires) <= datetime.now(UTC):
        return None
    allowed = tuple(key.allowed_models) if key.allowed_models else None
    return Principal(user.id, user.email, user.role, key.id, allowed)


async def principal_for_session(session: AsyncSession, user_id: int, version: int) -> Principal | None:
    """The caller behind a session token, if the user still exists, is enabled, and has not
    changed password since the token was issued. Role is read fresh on every request."""
    user = await session.get(User, user_id)
    if user is None or user.disabled or user.token_version != version:
        return None
    return Principal(user.id, user.email, user.role)


def _aware(moment: datetime) -> datetime:
    # SQLite returns naive datetimes; everything is stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
