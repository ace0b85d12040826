"""The API-key caller cache: remembered briefly, never past the key's expiry, forgotten on
the changes this process makes, bounded in size."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gpuchat.core.security import Principal
from gpuchat.services.accounts import principals
from gpuchat.services.accounts.principals import PrincipalCache

ALICE = Principal(1, "alice@example.com", "user", api_key_id=10)
BOB = Principal(2, "bob@example.com", "admin", api_key_id=20)


def test_remembered_until_the_ttl_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr(principals.time, "monotonic", lambda: clock[0])
    cache = PrincipalCache(5)
    cache.put("a", ALICE, expires=None)
    clock[0] += 4.9
    assert cache.get("a") == ALICE
    clock[0] += 0.2
    assert cache.get("a") is None


def test_never_past_the_keys_own_expiry() -> None:
    cache = PrincipalCache(60)
    cache.put("a", ALICE, expires=datetime.now(UTC) - timedelta(seconds=1))
    assert cache.get("a") is None


def test_forgets_a_revoked_key_and_a_changed_user_at_once() -> None:
    cache = PrincipalCache(60)
    cache.put("a", ALICE, None)
    cache.put("b", BOB, None)
    cache.forget_key(10)
    assert cache.get("a") is None and cache.get("b") == BOB
    cache.forget_user(2)
    assert cache.get("b") is None


def test_zero_ttl_turns_it_off() -> None:
    cache = PrincipalCache(0)
    cache.put("a", ALICE, None)
    assert cache.get("a") is None


def test_a_flood_of_keys_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(principals, "MAX_ENTRIES", 100)
    cache = PrincipalCache(60)
    for n in range(250):
        cache.put(f"k{n}", ALICE, None)
    assert len(cache._entries) <= 100
    assert cache.get("k249") == ALICE
