"""Single sign-on: who a provider's identity is in gpuchat, and which role they have.

A user is known by the ID token's (issuer, subject), never by email alone. At the first
sign-in an account is created, or an existing local account with the same email is
linked, but only when the provider says the email is verified (otherwise anyone able to
set an unverified address at the provider could take over the local account).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gpuchat.core.config import PasswordLogin, Settings
from gpuchat.core.db import session_scope
from gpuchat.core.security import Role
from gpuchat.db.models import User
from gpuchat.db.repositories import users
from gpuchat.services.accounts.oidc import Identity, SignInFailed


def provider_groups(claims: dict[str, Any], claim: str) -> tuple[str, ...]:
    """The group names the provider sent in `claim` (a list of strings, or one string),
    as given. The one place that reads them: the admin mapping below uses it, and so
    can a mapping to gpuchat groups."""
    value = claims.get(claim)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str) and item)


def role_from_groups(groups: Sequence[str], settings: Settings) -> Role:
    if set(groups) & set(settings.oidc_admin_groups):
        return Role.admin
    return settings.oidc_default_role


def is_first_admin(user: User, settings: Settings) -> bool:
    return user.email == users.normalise_email(settings.admin_email)


def may_use_password(user: User, settings: Settings) -> bool:
    """GPUCHAT_PASSWORD_LOGIN for this account. The first admin always may (the way in when
    the identity provider is broken); an account without a password never can."""
    if user.password_hash is None:
        return False
    if is_first_admin(user, settings) or settings.password_login is PasswordLogin.all:
        return True
    return settings.password_login is PasswordLogin.admins and user.role == Role.admin


async def sign_in(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, identity: Identity
) -> User:
    """The user this identity signs in as: found, linked or created; the role re-evaluated
    from the groups when admin groups are configured. Raises SignInFailed."""
    try:
        return await _sign_in(sessions, settings, identity)
    except IntegrityError:
        # Two first sign-ins of one identity at once (two tabs): the other created the
        # user, or took the email; this try finds it, or says why not.
        return await _sign_in(sessions, settings, identity)


async def _sign_in(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, identity: Identity
) -> User:
    groups = provider_groups(identity.claims, settings.oidc_groups_claim)
    async with session_scope(sessions) as session:
        user = await _find_or_link(session, identity, settings)
        if user.disabled:
            raise SignInFailed("disabled")
        if settings.oidc_admin_groups and not is_first_admin(user, settings):
            # The provider decides, at every sign-in: leaving the admin group demotes. The
            # first admin is never demoted by it (it is the way in when SSO breaks).
            user.role = role_from_groups(groups, settings)
    return user


async def _find_or_link(session: AsyncSession, identity: Identity, settings: Settings) -> User:
    known = await session.scalar(
        select(User).where(
            User.oidc_issuer == identity.issuer, User.oidc_subject == identity.subject
        )
    )
    if known is not None:
        return known
    if identity.email is None:
        raise SignInFailed("email_missing")
    existing = await users.get_user_by_email(session, identity.email)
    if existing is not None:
        if existing.oidc_subject is not None:  # the address is another identity's
            raise SignInFailed("email_taken")
        if not identity.email_verified:
            raise SignInFailed("email_unverified")
        existing.oidc_issuer, existing.oidc_subject = identity.issuer, identity.subject
        return existing
    groups = provider_groups(identity.claims, settings.oidc_groups_claim)
    user = User(
        email=users.normalise_email(identity.email),
        password_hash=None,
        role=role_from_groups(groups, settings),
        settings={},
        limits=None,
        token_version=0,
        oidc_issuer=identity.issuer,
        oidc_subject=identity.subject,
    )
    session.add(user)
    await session.flush()
    return user
