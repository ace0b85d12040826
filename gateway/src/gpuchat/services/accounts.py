"""Logging in and managing one's own account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from gpuchat.core import security
from gpuchat.core.config import Settings
from gpuchat.core.errors import GatewayError
from gpuchat.core.network import client_address
from gpuchat.db.models import User
from gpuchat.db.repositories import users
from gpuchat.db.repositories.users import Principal
from gpuchat.services.ratelimit import LimiterUnavailable, RateLimiter

# Verifying against this when the email is unknown makes both failures cost the same.
# (A fixed hash of a throwaway string: computing it at import cost 0.5 s and 64 MiB.)
_DUMMY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$nR5WiNboz5PYFjU8ldzFgg$"
    "6RNeigmNQY/34uTKUVt3EOe7xc2PBdrN5e08h0bqYpw"
)

INVALID_LOGIN = "Invalid email or password"


@dataclass(frozen=True, slots=True)
class LoginKeys:
    address: str
    account: str


async def _check_throttle(limiter: RateLimiter, settings: Settings, keys: LoginKeys) -> None:
    checks = (
        (settings.login_attempts_per_address, ("login-address", keys.address)),
        (settings.login_attempts_per_account, ("login-account", keys.account)),
    )
    try:
        for limit, key in checks:
            if not await limiter.allowed(limit, *key):
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


async def _count_failure(limiter: RateLimiter, settings: Settings, keys: LoginKeys) -> None:
    try:
        await limiter.hit(settings.login_attempts_per_address, "login-address", keys.address)
        await limiter.hit(settings.login_attempts_per_account, "login-account", keys.account)
    except LimiterUnavailable:
        pass  # the next attempt's check fails closed


async def login(
    request: Request,
    session: AsyncSession,
    limiter: RateLimiter,
    settings: Settings,
    email: str,
    password: str,
) -> User:
    keys = LoginKeys(
        client_address(request, settings.trusted_proxies), users.normalise_email(email)
    )
    await _check_throttle(limiter, settings, keys)
    user = await users.get_user_by_email(session, email)
    valid = await security.verify_password_async(
        password, user.password_hash if user else _DUMMY_HASH
    )
    if user is None or not valid or user.disabled:
        await _count_failure(limiter, settings, keys)
        raise GatewayError(401, INVALID_LOGIN, code="invalid_credentials")
    return user


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
    return GatewayError(
        403, f"A new API key cannot {what}", code="key_scope_exceeded", param=param
    )
