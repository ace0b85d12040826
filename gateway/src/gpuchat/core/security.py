"""Secrets: API key generation and digests, password hashing."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

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


def new_password() -> str:
    return secrets.token_urlsafe(18)
