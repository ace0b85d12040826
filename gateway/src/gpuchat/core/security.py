"""Secrets: API key generation and digests, password hashing."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from gpuchat.core.errors import GatewayError

T = TypeVar("T")
API_KEY_PREFIX = "gpc_"
API_KEY_SHOWN_CHARS = 12  # "gpc_" + 8 characters: enough to recognise a key, useless to guess it

_passwords = PasswordHash((Argon2Hasher(),))


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def api_key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def api_key_prefix(key: str) -> str:
    return key[:API_KEY_SHOWN_CHARS]


def digests_match(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def hash_password(password: str) -> str:
    return _passwords.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    return _passwords.verify(password, password_hash)


class HashingBusy(GatewayError):
    def __init__(self) -> None:
        super().__init__(
            429, "Too many sign-ins at once; try again", code="hashing_busy", retry_after=1
        )


class Hashing:
    """Argon2 costs ~0.3 s of CPU and 64 MiB per hash, on purpose. In the event loop that
    would stall every stream in flight, so request paths hash in a worker thread (argon2
    drops the GIL), `threads` at a time, so a burst cannot take the memory or all cores.
    At most `waiting` more wait for a thread; beyond that a caller gets a fast 429 instead
    of a queue that grows with the burst (each waiter holding a request open)."""

    def __init__(self, threads: int = 2, waiting: int = 8) -> None:
        self._threads = threading.BoundedSemaphore(threads)
        self._limit = threads + waiting
        self._admitted = 0  # touched only from the event loop

    async def run(self, work: Callable[..., T], *args: str) -> T:
        if self._admitted >= self._limit:
            raise HashingBusy
        self._admitted += 1
        try:
            return await asyncio.to_thread(self._bounded, work, *args)
        finally:
            self._admitted -= 1

    def _bounded(self, work: Callable[..., T], *args: str) -> T:
        with self._threads:
            return work(*args)


_HASHING = Hashing()


async def hash_password_async(password: str) -> str:
    return await _HASHING.run(_passwords.hash, password)


async def verify_password_async(password: str, password_hash: str) -> bool:
    return await _HASHING.run(_passwords.verify, password, password_hash)


def new_password() -> str:
    return secrets.token_urlsafe(18)


SESSION_ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class SessionClaims:
    user_id: int
    version: int  # the user's token_version when issued (a password change voids it)
    session_id: str  # `jti`: what logout revokes
    expires: datetime


def new_session_token(user_id: int, token_version: int, secret: str, ttl_seconds: int) -> str:
    now = int(time.time())
    claims = {
        "sub": str(user_id),
        "ver": token_version,
        "jti": secrets.token_hex(16),
        "iat": now,
        "exp": now + ttl_seconds,
        "typ": "session",
    }
    return jwt.encode(claims, secret, algorithm=SESSION_ALGORITHM)


def read_session_token(token: str, secret: str) -> SessionClaims | None:
    """The claims of a valid, unexpired session token; None otherwise.

    Only HS256 is accepted: `alg: none` and algorithm-confusion tokens fail here. A token
    without a session id (`jti`) cannot be logged out, so it is not accepted either."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[SESSION_ALGORITHM],
            options={"require": ["exp", "iat", "sub", "jti"]},
        )
    except jwt.PyJWTError:
        return None
    if claims.get("typ") != "session" or not isinstance(claims["jti"], str):
        return None
    try:
        return SessionClaims(
            int(claims["sub"]),
            int(claims.get("ver", 0)),
            claims["jti"][:64],
            datetime.fromtimestamp(int(claims["exp"]), UTC),
        )
    except (TypeError, ValueError, OverflowError, OSError):
        return None


class Role(StrEnum):
    user = "user"
    admin = "admin"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the user, and the API key when one was used."""

    user_id: int
    email: str
    role: str
    api_key_id: int | None = None
    allowed_models: tuple[str, ...] | None = None
    limits: dict[str, Any] | None = field(default=None, compare=False)  # admin-set overrides
    key_expires: datetime | None = None  # when the API key used expires (None: never)
    # The user's groups: the models they allow (None: every model, also when the user is
    # in no group) and each group's limits (the most generous applies).
    group_models: tuple[str, ...] | None = None
    group_limits: tuple[dict[str, Any], ...] = field(default=(), compare=False)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin
