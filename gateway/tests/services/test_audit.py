"""services/audit/record.py: what an entry keeps of before and after."""

from __future__ import annotations

import pytest

from gpuchat.services.audit.record import changed, is_secret


def test_changed_keeps_only_the_fields_that_differ() -> None:
    before = {"role": "user", "disabled": False, "email": "a@example.com"}
    after = {"role": "admin", "disabled": False, "email": "a@example.com"}
    assert changed(before, after) == ({"role": "user"}, {"role": "admin"})
    assert changed(before, before) == (None, None)
    assert changed(None, {"limits": None, "rpm": 5}) == (None, {"rpm": 5})
    assert changed({"rpm": 5}, {}) == ({"rpm": 5}, None)


@pytest.mark.parametrize(
    "field",
    ["password", "password_hash", "sha256", "token", "key", "session_token", "New_Password"],
)
def test_secrets_never_reach_an_entry(field: str) -> None:
    assert is_secret(field)
    assert changed({field: "old-secret"}, {field: "new-secret", "role": "admin"}) == (
        None,
        {"role": "admin"},
    )


@pytest.mark.parametrize("field", ["tokens_per_day", "tokens_per_minute", "key_name", "prefix"])
def test_ordinary_fields_that_look_like_secrets_are_kept(field: str) -> None:
    assert not is_secret(field)
