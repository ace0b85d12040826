"""A user's own account and settings."""

from __future__ import annotations

from tests.utils.gateway import RunningGateway


async def test_me_settings_merge_and_return_no_secrets(gateway: RunningGateway) -> None:
    await gateway.create_user("settler@example.com")
    async with gateway.login("settler@example.com") as browser:
        first = await browser.patch(
            "/api/me/settings",
            json={"system_prompt": "You are terse. 짧게 답하세요. 100% '\"", "language": "ko"},
        )
        second = await browser.patch("/api/me/settings", json={"temperature": 0.3, "model": "fake"})
        me = (await browser.get("/api/me")).json()
    assert first.status_code == second.status_code == 200
    assert me["settings"]["system_prompt"] == "You are terse. 짧게 답하세요. 100% '\""
    assert me["settings"]["language"] == "ko"
    assert me["settings"]["temperature"] == 0.3
    assert "password" not in str(me)


async def test_me_cannot_set_role_or_owner(gateway: RunningGateway) -> None:
    await gateway.create_user("climber@example.com")
    async with gateway.login("climber@example.com") as browser:
        for field, value in (("role", "admin"), ("id", 1), ("disabled", False), ("email", "x@y")):
            response = await browser.patch("/api/me/settings", json={field: value})
            assert response.status_code == 422
            assert response.json()["error"]["param"] == field
        bad = await browser.patch("/api/me/settings", json={"temperature": 7, "language": "fr"})
        assert bad.status_code == 422
        me = (await browser.get("/api/me")).json()
        admin = await browser.get("/api/admin/users")
    assert me["role"] == "user"
    assert admin.status_code == 403
