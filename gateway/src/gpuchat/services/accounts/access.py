"""Logging in and managing one's own account."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request

from gpuchat.core import security
from gpuchat.core.config import Settings
from gpuchat.core.db import read_session, session_scope
from gpuchat.core.errors import GatewayError
from gpuchat.core.network import client_address
from gpuchat.core.security import Principal
from gpuchat.db.models import User
from gpuchat.db.repositories import users
from gpuchat.services.accounts.sso import may_use_password
from gpuchat.services.limits.login_throttle import LimiterUnavailable, LoginThrottle

# Verifying against this when the email is unknown makes both failures cost the same.
# (A fixed hash of a throwaway string: computing it at import cost 0.5 s and 64 MiB.)
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$nR5WiNboz5PYFjU8ldzFgg$"
    "6RNeigmNQY/34uTKUVt3EOe7xc2PBdrN5e08h0bqYpw"
)

INVALID_LOGIN = "Invalid email or password"


async def _count_attempt(
    limiter: LoginThrottle, checks: tuple[tuple[str, tuple[str, ...]], ...]
) -> None:
    """Count this attempt before anything is verified, and refuse it when over a limit:
    forty guesses at once are forty attempts, not forty checks that all pass."""
    try:
        for limit, key in checks:
            if not await limiter.hit(limit, *key):
                retry = await limiter.retry_after(limit, *key)
                raise GatewayError(
                    429,
                    "Too many login attempts; try again later",
                    code="login_throttled",
                    retry_after=retry,
                )
    except LimiterUnavailable as exc:
        # Fail closed: without a working throttle, nobody gets to guess passwords.
        raise GatewayError(
            503, "Login is temporarily unavailable", code="login_unavailable", retry_after=5
        ) from exc


async def _forget_attempts(limiter: LoginThrottle, limit: str, *key: str) -> None:
    """After a right password, the account's count starts over (the address's does not:
    an attacker's own account must not reset the budget for guessing other accounts)."""
    with contextlib.suppress(LimiterUnavailable):
        await limiter.clear(limit, *key)


async def login(
    request: Request,
    sessions: async_sessionmaker[AsyncSession],
    limiter: LoginThrottle,
    settings: Settings,
    email: str,
    password: str,
) -> User:
    address = client_address(request, settings.trusted_proxies)
    account = users.normalise_email(email)
    await _count_attempt(
        limiter,
        (
            (settings.login_attempts_per_address, ("login-address", address)),
            (settings.login_attempts_per_account, ("login-account", account)),
        ),
    )
    # The connection goes back to the pool before hashing: a burst of logins waiting for
    # a hashing thread must not hold every database connection.
    async with read_session(sessions) as session:
        user = await users.get_user_by_email(session, email)
    stored_hash = user.password_hash if user is not None else None
    valid = await security.verify_password_async(password, stored_hash or _DUMMY_HASH)
    if user is None or stored_hash is None or not valid or user.disabled:
        raise GatewayError(401, INVALID_LOGIN, code="invalid_credentials")
    if not may_use_password(user, settings):
        # Told only after the right password: the policy, not whether an account exists.
        raise GatewayError(
            403,
            "Password sign-in is turned off for this account; use single sign-on",
            code="password_login_disabled",
        )
    await _forget_attempts(limiter, settings.login_attempts_per_account, "login-account", account)
    return user


async def change_password(
    sessions: async_sessionmaker[AsyncSession],
    limiter: LoginThrottle,
    settings: Settings,
    user_id: int,
    current: str,
    new: str,
) -> User:
    """Throttled like a login (it is a password guess too); every session issued before
    ends. No connection is held while hashing."""
    key = ("password-change", str(user_id))
    await _count_attempt(limiter, ((settings.login_attempts_per_account, key),))
    async with read_session(sessions) as session:
        user = await session.get(User, user_id)
    if user is None:
        raise GatewayError(401, "The user no longer exists", code="invalid_credentials")
    if user.password_hash is None:
        raise GatewayError(
            409, "This account signs in with single sign-on and has no password", code="no_password"
        )
    if not await security.verify_password_async(current, user.password_hash):
        raise GatewayError(
            400, "The current password is wrong", code="wrong_password", param="current_password"
        )
    new_hash = await security.hash_password_async(new)
    async with session_scope(sessions) as session:
        stored = await session.get(User, user_id)
        if stored is None:
            raise GatewayError(401, "The user no longer exists", code="invalid_credentials")
        stored.password_hash = new_hash
        stored.token_version += 1
    await _forget_attempts(limiter, settings.login_attempts_per_account, *key)
    return stored


def session_token(user: User, settings: Settings) -> str:
    return security.new_session_token(
        user.id,
        user.token_version,
        settings.session_secret,
        settings.session_ttl_seconds,
    )


@dataclass(frozen=True, slots=True)
class KeyScope:
    expires: datetime | None
    allowed_models: list[str] | None


def new_key_scope(
    principal: Principal, expires: datetime | None, allowed_models: list[str] | None
) -> KeyScope:
    """What a new API key may do: what was asked, within the caller's own scope. A session
    may ask anything; a key creates keys only as narrow and as short-lived as itself (left
    unset, they inherit its limits), never wider (403)."""
    if expires is not None:
        expires = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
        if expires <= datetime.now(UTC):
            raise GatewayError(
                422, "expires_at must be in the future", code="invalid_value", param="expires_at"
            )
    if principal.api_key_id is None:
        return KeyScope(expires, allowed_models)
    parent_expires = principal.key_expires
    if parent_expires is not None:
        if expires is None:
            expires = parent_expires
        elif expires > parent_expires:
            raise _wider("expires_at", "expire after the key that creates it")
    parent_models = principal.allowed_models
    if parent_models is not None:
        if allowed_models is None:
            allowed_models = list(parent_models)
        elif not set(allowed_models) <= set(parent_models):
            raise _wider("allowed_models", "allow models the key that creates it may not use")
    return KeyScope(expires, allowed_models)


def _wider(param: str, what: str) -> GatewayError:
    return GatewayError(403, f"A new API key cannot {what}", code="key_scope_exceeded", param=param)
