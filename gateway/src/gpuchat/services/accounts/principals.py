"""Who is behind an API key, remembered for a few seconds.

Every `/v1` request authenticates, and a database read per request was the largest cost of
the gateway's hot path (docs/benchmarks.md). Here an API key's digest maps to its
`Principal` for `GPUCHAT_AUTH_CACHE_SECONDS` (default 5; 0 turns the cache off), never past
the key's own expiry. Changes made through this process forget the affected entries at
once: revoking a key, disabling, demoting or changing the limits of a user, and any
change to a group (its models, its limits, its members). Changes made
elsewhere (another replica or worker, a hand edit of the database) take effect within the
TTL. Unknown keys are never cached, so a wrong key costs a lookup, not memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from gpuchat.core.security import Principal

MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class _Entry:
    principal: Principal
    until: float  # time.monotonic()


class PrincipalCache:
    def __init__(self, ttl_seconds: float) -> None:
        self._ttl = ttl_seconds
        self._entries: dict[str, _Entry] = {}

    def get(self, digest: str) -> Principal | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if entry.until <= time.monotonic():
            del self._entries[digest]
            return None
        return entry.principal

    def put(self, digest: str, principal: Principal, expires: datetime | None) -> None:
        if self._ttl <= 0:
            return
        now = time.monotonic()
        until = now + self._ttl
        if expires is not None:
            until = min(until, now + (expires - datetime.now(UTC)).total_seconds())
        if len(self._entries) >= MAX_ENTRIES:
            self._drop_expired(now)
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()  # a flood of distinct keys: start over
        self._entries[digest] = _Entry(principal, until)

    def forget_user(self, user_id: int) -> None:
        self._forget(lambda p: p.user_id == user_id)

    def forget_users(self, user_ids: Iterable[int]) -> None:
        """After a change to a group: its members' models and limits change at once."""
        ids = set(user_ids)
        if ids:
            self._forget(lambda p: p.user_id in ids)

    def forget_key(self, key_id: int) -> None:
        self._forget(lambda p: p.api_key_id == key_id)

    def _forget(self, matches: Callable[[Principal], bool]) -> None:
        for digest in [d for d, e in self._entries.items() if matches(e.principal)]:
            del self._entries[digest]

    def _drop_expired(self, now: float) -> None:
        for digest in [d for d, e in self._entries.items() if e.until <= now]:
            del self._entries[digest]
