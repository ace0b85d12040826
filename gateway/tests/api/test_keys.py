"""API keys: shown once, stored as digests, owned, revocable, optionally limited."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from gpuchat.core.security import api_key_digest
from gpuchat.db.models import ApiKey
from tests.utils.gateway import RunningGateway
from tests.utils.streams import chat_body


async def test_key_is_shown_once_and_stored_as_digest(gateway: RunningGateway) -> None:
    await gateway.create_user("keyholder@example.com")
    async with gateway.login("keyholder@example.com") as browser:
        created = await browser.post("/api/keys", json={"name": "laptop ✓ 'quoted' %_"})
        assert created.status_code == 201
        body = created.json()
        secret = body["key"]
        assert secret.startswith("gpc_") and secret.startswith(body["prefix"])
        assert body["name"] == "laptop ✓ 'quoted' %_"
        listed = await browser.get("/api/keys")
    assert secret not in listed.text
    assert "sha256" not in listed.text and api_key_digest(secret) not in listed.text
    assert [k["prefix"] for k in listed.json()["data"]] == [body["prefix"]]
    async with gateway.state.sessions() as session:
        stored = await session.scalar(select(ApiKey).where(ApiKey.id == body["id"]))
    assert stored is not None and stored.sha256 == api_key_digest(secret)
    async with gateway.client(secret) as program:
        assert (await program.get("/v1/models")).status_code == 200


async def test_revoked_key_stops_working(gateway: RunningGateway) -> None:
    await gateway.create_user("revoker@example.com")
    async with gateway.login("revoker@example.com") as browser:
        created = (await browser.post("/api/keys", json={"name": "temp"})).json()
        async with gateway.client(created["key"]) as program:
            assert (await program.get("/v1/models")).status_code == 200
            assert (await browser.delete(f"/api/keys/{created['id']}")).status_code == 204
            revoked = await program.get("/v1/models")
        assert revoked.status_code == 401 and revoked.headers["www-authenticate"] == "Bearer"
        assert (await browser.get("/api/keys")).json()["data"] == []
        assert (await browser.delete(f"/api/keys/{created['id']}")).status_code == 404


async def test_another_users_key_is_404(gateway: RunningGateway) -> None:
    await gateway.create_user("owner@example.com")
    await gateway.create_user("intruder@example.com")
    async with gateway.login("owner@example.com") as owner:
        key_id = (await owner.post("/api/keys", json={"name": "mine"})).json()["id"]
    async with gateway.login("intruder@example.com") as intruder:
        response = await intruder.delete(f"/api/keys/{key_id}")
        assert response.status_code == 404
        assert response.json()["error"]["type"] == "not_found_error"
        assert (await intruder.get("/api/keys")).json()["data"] == []
    async with gateway.login("owner@example.com") as owner:
        assert len((await owner.get("/api/keys")).json()["data"]) == 1


async def test_key_expiry_and_allowed_models(gateway: RunningGateway) -> None:
    await gateway.create_user("limited@example.com")
    async with gateway.login("limited@example.com") as browser:
        past = await browser.post(
            "/api/keys", json={"name": "x", "expires_at": "2001-01-01T00:00:00Z"}
        )
        assert past.status_code == 422 and past.json()["error"]["param"] == "expires_at"
        soon = datetime.now(UTC) + timedelta(days=1)
        limited = await browser.post(
            "/api/keys",
            json={"name": "fake only", "expires_at": soon.isoformat(), "allowed_models": ["fake"]},
        )
    key = limited.json()["key"]
    async with gateway.client(key) as program:
        ok = await program.post("/v1/chat/completions", json=chat_body("hi", model="fake-model"))
        refused = await program.post(
            "/v1/chat/completions", json=chat_body("hi", model="unreachable")
        )
    assert ok.status_code == 200
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "model_not_allowed"


async def test_a_key_stops_when_it_expires(gateway: RunningGateway) -> None:
    await gateway.create_user("brief@example.com")
    expires = datetime.now(UTC) + timedelta(seconds=3)
    async with gateway.login("brief@example.com") as browser:
        created = await browser.post(
            "/api/keys", json={"name": "brief", "expires_at": expires.isoformat()}
        )
    async with gateway.client(created.json()["key"]) as program:
        assert (await program.get("/v1/models")).status_code == 200
        await asyncio.sleep((expires - datetime.now(UTC)).total_seconds() + 0.1)
        assert (await program.get("/v1/models")).status_code == 401


async def test_key_create_refuses_owner_fields(gateway: RunningGateway) -> None:
    await gateway.create_user("sneaky@example.com")
    async with gateway.login("sneaky@example.com") as browser:
        for extra in ({"user_id": 1}, {"owner": "admin@example.com"}, {"sha256": "0" * 64}):
            response = await browser.post("/api/keys", json={"name": "x", **extra})
            assert response.status_code == 422, extra
            assert response.json()["error"]["param"] == next(iter(extra))


async def test_a_key_cannot_mint_a_wider_or_longer_lived_key(gateway: RunningGateway) -> None:
    """A key limited to one model and a day gets keys within that scope, never beyond it."""
    await gateway.create_user("minter@example.com")
    soon = datetime.now(UTC) + timedelta(days=1)
    async with gateway.login("minter@example.com") as browser:
        parent = await browser.post(
            "/api/keys",
            json={"name": "narrow", "expires_at": soon.isoformat(), "allowed_models": ["fake"]},
        )
    async with gateway.client(parent.json()["key"]) as program:
        inherited = await program.post("/api/keys", json={"name": "child"})
        wider_models = await program.post(
            "/api/keys", json={"name": "wide", "allowed_models": ["fake", "unreachable"]}
        )
        longer = await program.post(
            "/api/keys",
            json={"name": "long", "expires_at": (soon + timedelta(days=30)).isoformat()},
        )
    assert inherited.status_code == 201, inherited.text
    child = inherited.json()
    assert child["allowed_models"] == ["fake"]
    assert datetime.fromisoformat(child["expires"]) <= soon
    for refused, param in ((wider_models, "allowed_models"), (longer, "expires_at")):
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "key_scope_exceeded"
        assert refused.json()["error"]["param"] == param
    async with gateway.client(child["key"]) as program:
        other_model = await program.post(
            "/v1/chat/completions", json=chat_body("hi", model="unreachable")
        )
    assert other_model.status_code == 403


async def test_a_keys_last_use_is_shown_and_written_at_most_once_a_minute(
    gateway: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    await gateway.create_user("lastuse@example.com")
    async with gateway.login("lastuse@example.com") as browser:
        created = (await browser.post("/api/keys", json={"name": "used"})).json()
        assert (await browser.get("/api/keys")).json()["data"][0]["last_used"] is None

        async def use_and_read() -> str:
            async with gateway.client(created["key"]) as program:
                answer = await program.post("/v1/chat/completions", json=chat_body("hi"))
            assert answer.status_code == 200
            await gateway.state.usage.flush()
            [key] = (await browser.get("/api/keys")).json()["data"]
            assert key["last_used"] is not None
            return str(key["last_used"])

        first = await use_and_read()
        assert await use_and_read() == first  # within the minute: not written again
        monkeypatch.setattr("gpuchat.services.usage.recorder.KEY_TOUCH_SECONDS", 0.0)
        assert await use_and_read() > first
