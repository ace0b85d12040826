"""Builders for tests of groups: a group made through the admin API, a member added."""

from __future__ import annotations

import secrets
from typing import Any

from gpuchat.core.db import session_scope
from gpuchat.db.repositories import users
from tests.utils.gateway import RunningGateway


async def user_id(gateway: RunningGateway, email: str) -> int:
    await gateway.create_user(email)
    async with session_scope(gateway.state.sessions) as session:
        user = await users.get_user_by_email(session, email)
        assert user is not None
        return user.id


async def new_group(
    gateway: RunningGateway, *, members: tuple[str, ...] = (), **fields: Any
) -> dict[str, Any]:
    """A group with a fresh name (or `name=`), made by the admin, with these members."""
    body = {"name": "group-" + secrets.token_hex(4), **fields}
    async with gateway.client() as admin:
        response = await admin.post("/api/admin/groups", json=body)
        assert response.status_code == 201, response.text
        group: dict[str, Any] = response.json()
        for email in members:
            member = await user_id(gateway, email)
            added = await admin.put(f"/api/admin/groups/{group['id']}/members/{member}")
            assert added.status_code == 204, added.text
    return group


def fresh_email(prefix: str = "member") -> str:
    return f"{prefix}-{secrets.token_hex(4)}@example.com"
