"""The end-of-session log check really finds what it looks for."""

from __future__ import annotations

from gpuchat.core import security
from tests.utils.gateway import ADMIN_PASSWORD
from tests.utils.secrets_in_logs import find_secrets


def test_find_secrets_spots_keys_tokens_hashes_and_passwords() -> None:
    token = security.new_session_token(1, 0, "x" * 40, 60)
    for leak in (
        security.new_api_key(),
        token,
        security.hash_password("whatever-123"),
        f"password={ADMIN_PASSWORD}",
        "headers={'Authorization': 'Bearer abc'}",
    ):
        assert find_secrets(f"2026-01-01 request {leak} done"), leak
    assert find_secrets("request_id=abc prefix=gpc_1234abcd status=200") == []
