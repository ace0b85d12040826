"""Find secrets in log text: full API keys, session tokens, password hashes, test passwords."""

from __future__ import annotations

import re

from tests.utils.gateway import ADMIN_PASSWORD, USER_PASSWORD

PATTERNS = {
    "API key": re.compile(r"gpc_[A-Za-z0-9_-]{30,}"),
    "session token": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    "password hash": re.compile(r"\$argon2"),
    "Authorization header": re.compile(r"(?i)authorization['\"]?\s*[:=]\s*['\"]?bearer"),
    "test password": re.compile(re.escape(ADMIN_PASSWORD) + "|" + re.escape(USER_PASSWORD)),
}


def find_secrets(text: str) -> list[str]:
    found = []
    for name, pattern in PATTERNS.items():
        match = pattern.search(text)
        if match:
            start = max(match.start() - 80, 0)
            found.append(f"{name}: ...{text[start : match.end()]}")
    return found
