"""API keys: stored as SHA-256 digests; the full key exists only in the creation response."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gpuchat.core import security
from gpuchat.core.security import Principal
from gpuchat.db.models import ApiKey, User
from gpuchat.db.repositories import groups


async def create_api_key(
    session: AsyncSession,
    user: User,
    name: str,
    *,
    expires: datetime | None = None,
    allowed_models: list[str] | None = None,
) -> tuple[ApiKey, str]:
    """Returns the stored key and the full secret, which is never stored or shown again."""
    secret = security.new_api_key()
    key = ApiKey(
        user_id=user.id,
        name=name,
        prefix=security.api_key_prefix(secret),
        sha256=security.api_key_digest(secret),
        expires=expires,
        allowed_models=allowed_models,
    )
    session.add(key)
    await session.flush()
    return key, secret


async def list_keys(session: AsyncSession, user_id: int) -> Sequence[ApiKey]:
    statement = (
        select(ApiKey)
        .where(ApiKey.user_id == user_id, ApiKey.revoked.is_(False))
        .order_by(ApiKey.id.desc())
    )
    return (await session.scalars(statement)).all()


async def get_own_key(session: AsyncSession, user_id: int, key_id: int) -> ApiKey | None:
    key = await session.get(ApiKey, key_id)
    if key is None or key.user_id != user_id or key.revoked:
        return None
    return key


async def principal_for_api_key(
    session: AsyncSession, digest: str
) -> tuple[Principal, datetime | None] | None:
    """The caller behind a bearer key's digest and the key's expiry, or None if the key is
    unknown, revoked or expired, or its user is disabled."""
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
    if key.expires is not None and key.expires <= datetime.now(UTC):
        return None
    allowed = tuple(key.allowed_models) if key.allowed_models else None
    models, group_limits = await groups.access_of(session, user.id)
    principal = Principal(
        user.id,
        user.email,
        user.role,
        key.id,
        allowed,
        limits=user.limits,
        key_expires=key.expires,
        group_models=models,
        group_limits=group_limits,
    )
    return principal, key.expires
