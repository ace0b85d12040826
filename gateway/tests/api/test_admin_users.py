"""Admin user management; every admin route refuses non-admins (QUALITY.md: Authorization)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from gpuchat.db.models import User
from tests.utils.gateway import ADMIN_EMAIL, RunningGateway

ADMIN_CALLS = [
    ("GET", "/api/admin/users", None),
    ("GET", "/api/admin/users/", None),
    ("GET", "/api/admin/users?q=%25", None),
    ("POST", "/api/admin/users", {"email": "made-by-user@example.com", "role": "admin"}),
    ("PATCH", "/api/admin/users/1", {"role": "user"}),
    ("POST", "/api/admin/users/1/password", {"password": "taken-over-123"}),
]


async def _user_count(gateway: RunningGateway) -> int:
    async with gateway.state.sessions() as session:
        return await session.scalar(select(func.count()).select_from(User)) or 0


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_CALLS)
async def test_admin_routes_refuse_non_admins_without_side_effects(
    gateway: RunningGateway, method: str, path: str, body: dict[str, str] | None
) -> None:
    await gateway.create_user("plain@example.com")
    before = await _user_count(gateway)
    key = await gateway.new_key("plain@example.com")
    async with gateway.login("plain@example.com") as browser, gateway.client(key) as program:
        for client in (browser, program):
            response = await client.request(method, path, json=body)
            assert response.status_code in (403, 404, 405), (path, response.status_code)
            assert response.json()["error"]["type"] in (
                "permission_error",
                "not_found_error",
                "invalid_request_error",
            )
    async with httpx.AsyncClient(base_url=gateway.url) as anonymous:
        response = await anonymous.request(method, path, json=body)
        assert response.status_code in (401, 404, 405)
    assert await _user_count(gateway) == before
    async with gateway.login(ADMIN_EMAIL, "admin-password-for-tests") as admin:
        assert (await admin.get("/api/me")).json()["role"] == "admin"


async def test_admin_creates_lists_and_searches_users_literally(gateway: RunningGateway) -> None:
    async with gateway.client() as admin:
        created = await admin.post("/api/admin/users", json={"email": "new_hire%@example.com"})
        duplicate = await admin.post("/api/admin/users", json={"email": "NEW_HIRE%@example.com"})
        await admin.post(
            "/api/admin/users", json={"email": "newXhire@example.com", "password": "chosen-pass-1"}
        )
        literal = (await admin.get("/api/admin/users", params={"q": "new_hire%"})).json()
        wildcard = (await admin.get("/api/admin/users", params={"q": "%"})).json()
        paged = (await admin.get("/api/admin/users", params={"limit": 1, "offset": 1})).json()
    assert created.status_code == 201
    password = created.json()["password"]
    assert password and len(password) >= 16
    assert duplicate.status_code == 409
    assert [u["email"] for u in literal["data"]] == ["new_hire%@example.com"]
    assert [u["email"] for u in wildcard["data"]] == ["new_hire%@example.com"]
    assert len(paged["data"]) == 1 and paged["total"] >= 3
    async with gateway.login("new_hire%@example.com", password) as hire:
        assert (await hire.get("/api/me")).json()["role"] == "user"


async def test_demoted_admin_loses_admin_on_next_request(gateway: RunningGateway) -> None:
    await gateway.create_user("second-admin@example.com", admin=True)
    key = await gateway.new_key("second-admin@example.com")
    async with (
        gateway.login("second-admin@example.com") as second,
        gateway.client(key) as second_by_key,
        gateway.client() as first,
    ):
        assert (await second.get("/api/admin/users")).status_code == 200
        assert (await second_by_key.get("/api/admin/users")).status_code == 200
        me = (await second.get("/api/me")).json()
        demoted = await first.patch(f"/api/admin/users/{me['id']}", json={"role": "user"})
        assert demoted.status_code == 200
        assert (await second.get("/api/admin/users")).status_code == 403
        assert (await second_by_key.get("/api/admin/users")).status_code == 403


async def test_last_admin_cannot_be_demoted(gateway: RunningGateway) -> None:
    async with gateway.client() as admin:
        users = (await admin.get("/api/admin/users", params={"limit": 200})).json()["data"]
        admins = [u for u in users if u["role"] == "admin" and not u["disabled"]]
        for other in admins[1:]:
            await admin.patch(f"/api/admin/users/{other['id']}", json={"role": "user"})
        me = (await admin.get("/api/me")).json()
        response = await admin.patch(f"/api/admin/users/{me['id']}", json={"disabled": True})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "last_admin"


async def test_admin_password_reset_ends_sessions(gateway: RunningGateway) -> None:
    await gateway.create_user("forgetful@example.com")
    async with gateway.login("forgetful@example.com") as user, gateway.client() as admin:
        user_id = (await user.get("/api/me")).json()["id"]
        reset = await admin.post(f"/api/admin/users/{user_id}/password", json={})
        assert reset.status_code == 200
        assert (await user.get("/api/me")).status_code == 401
        new_password = reset.json()["password"]
    async with gateway.login("forgetful@example.com", new_password) as user:
        assert (await user.get("/api/me")).status_code == 200


async def test_admin_sets_limits_and_rejects_unknown_fields(gateway: RunningGateway) -> None:
    await gateway.create_user("metered@example.com")
    async with gateway.login("metered@example.com") as user, gateway.client() as admin:
        user_id = (await user.get("/api/me")).json()["id"]
        ok = await admin.patch(
            f"/api/admin/users/{user_id}", json={"limits": {"tokens_per_day": 1000}}
        )
        bad = await admin.patch(f"/api/admin/users/{user_id}", json={"password_hash": "x"})
    assert ok.json()["limits"]["tokens_per_day"] == 1000
    assert bad.status_code == 422
