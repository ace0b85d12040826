"""Logging in, sessions and tokens (QUALITY.md: Authentication)."""

from __future__ import annotations

import asyncio
import secrets
import time

import httpx
import jwt
import pytest

from gpuchat.db.models import User
from tests.utils.gateway import ADMIN_EMAIL, ADMIN_PASSWORD, USER_PASSWORD, RunningGateway


def assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["type"] == "authentication_error"


async def test_login_sets_httponly_strict_cookie_and_returns_token(gateway: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        response = await client.post(
            "/api/auth/login", json={"email": ADMIN_EMAIL.upper(), "password": ADMIN_PASSWORD}
        )
        assert response.status_code == 200
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
        body = response.json()
        assert body["user"]["email"] == ADMIN_EMAIL and body["user"]["role"] == "admin"
        assert "password_hash" not in response.text and ADMIN_PASSWORD not in response.text
        assert (await client.get("/api/me")).json()["email"] == ADMIN_EMAIL
    async with httpx.AsyncClient(base_url=gateway.url) as script:
        me = await script.get("/api/me", headers={"Authorization": f"Bearer {body['token']}"})
        models = await script.get(
            "/v1/models", headers={"Authorization": f"Bearer {body['token']}"}
        )
    assert me.status_code == 200 and models.status_code == 200


async def test_login_unknown_user_and_wrong_password_look_identical(
    gateway: RunningGateway,
) -> None:
    await gateway.create_user("known@example.com")
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        wrong = await client.post(
            "/api/auth/login",
            json={"email": "known@example.com", "password": "nope-nope"},
            headers={"X-Forwarded-For": "10.9.9.1"},
        )
        unknown = await client.post(
            "/api/auth/login",
            json={"email": "ghost@example.com", "password": "nope-nope"},
            headers={"X-Forwarded-For": "10.9.9.2"},
        )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert "set-cookie" not in wrong.headers


async def test_login_is_throttled_per_account(gateway: RunningGateway) -> None:
    await gateway.create_user("target@example.com")
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        for attempt in range(5):  # five guesses, each from a different address
            response = await client.post(
                "/api/auth/login",
                json={"email": "target@example.com", "password": "guess-guess"},
                headers={"X-Forwarded-For": f"10.8.0.{attempt}"},
            )
            assert response.status_code == 401
        blocked = await client.post(
            "/api/auth/login",
            json={"email": "target@example.com", "password": USER_PASSWORD},
            headers={"X-Forwarded-For": "10.8.1.1"},
        )
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) >= 1
    assert blocked.json()["error"]["type"] == "rate_limit_error"


async def test_login_is_throttled_per_address(gateway: RunningGateway) -> None:
    async with httpx.AsyncClient(
        base_url=gateway.url, headers={"X-Forwarded-For": "10.7.7.7"}
    ) as c:
        for n in range(20):
            response = await c.post(
                "/api/auth/login",
                json={"email": f"spray{n}@example.com", "password": "guess-guess"},
            )
            assert response.status_code == 401
        blocked = await c.post(
            "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
    assert blocked.status_code == 429


async def test_logout_clears_the_cookie(gateway: RunningGateway) -> None:
    await gateway.create_user("leaver@example.com")
    async with gateway.login("leaver@example.com") as client:
        response = await client.post("/api/auth/logout")
        assert response.status_code == 204
        assert "max-age=0" in response.headers["set-cookie"].lower()
        assert_401(await client.get("/api/me"))


async def _login_token(gateway: RunningGateway, email: str) -> str:
    async with gateway.login(email) as browser:
        return str(browser.cookies["gpuchat_session"])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_logout_ends_the_token_server_side(gateway: RunningGateway) -> None:
    """A token copied before logout (a stolen cookie, a script) stops working; the user's
    other sessions go on."""
    await gateway.create_user("ender@example.com")
    other = await _login_token(gateway, "ender@example.com")
    async with gateway.login("ender@example.com") as browser:
        token = browser.cookies["gpuchat_session"]
        assert (await browser.post("/api/auth/logout")).status_code == 204
    async with httpx.AsyncClient(base_url=gateway.url) as thief:
        assert_401(await thief.get("/api/me", headers=_bearer(token)))
        thief.cookies.set("gpuchat_session", token)
        assert_401(await thief.get("/api/me"))
        thief.cookies.clear()
        assert (await thief.get("/api/me", headers=_bearer(other))).status_code == 200
        # A script logs out with its bearer token alone.
        assert (await thief.post("/api/auth/logout", headers=_bearer(other))).status_code == 204
        assert_401(await thief.get("/api/me", headers=_bearer(other)))


async def test_logout_everywhere_ends_every_session_but_not_keys(gateway: RunningGateway) -> None:
    await gateway.create_user("everywhere@example.com")
    key = await gateway.new_key("everywhere@example.com")
    phone = await _login_token(gateway, "everywhere@example.com")
    async with gateway.client(key) as program:
        refused = await program.post("/api/auth/logout-all")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "session_required"
        assert (await program.get("/api/me", headers=_bearer(phone))).status_code == 200
        async with gateway.login("everywhere@example.com") as laptop:
            ended = await laptop.post("/api/auth/logout-all")
            assert ended.status_code == 204
            assert_401(await laptop.get("/api/me"))
        assert_401(await program.get("/api/me", headers=_bearer(phone)))
        assert (await program.get("/v1/models")).status_code == 200
    async with gateway.login("everywhere@example.com") as again:
        assert (await again.get("/api/me")).status_code == 200


# The constant that signed every development gateway's sessions before secrets were
# generated: a token signed with it must mean nothing anywhere now.
OLD_PUBLIC_SECRET = "change-me-development-secret-0123456789"


def _claims(**changes: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {"sub": "1", "ver": 0, "typ": "session", "iat": now}
    claims["jti"] = secrets.token_hex(16)
    claims["exp"] = now + 600
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


GATEWAY_SECRET = "the gateway's own secret"
BAD_TOKENS: dict[str, tuple[dict[str, object], str | None]] = {
    "expired": (_claims(iat=1, exp=2), GATEWAY_SECRET),
    "wrong-signature": (_claims(), "wrong-key-wrong-key-wrong-key-123"),
    "public-development-constant": (_claims(), OLD_PUBLIC_SECRET),
    "alg-none": (_claims(), None),
    "wrong-type": (_claims(typ=None), GATEWAY_SECRET),
    "stale-version": (_claims(ver=99), GATEWAY_SECRET),
    "no-session-id": (_claims(jti=None), GATEWAY_SECRET),  # could not be logged out
}


def _bad_token(gateway: RunningGateway, case: str) -> str:
    claims, key = BAD_TOKENS[case]
    if key is None:
        return jwt.encode(claims, None, algorithm="none")
    if key == GATEWAY_SECRET:
        key = gateway.state.settings.session_secret
    return jwt.encode(claims, key, algorithm="HS256")


@pytest.mark.parametrize("case", ["garbage", *BAD_TOKENS])
async def test_bad_session_tokens_are_401(gateway: RunningGateway, case: str) -> None:
    """The admin (user 1) with a token that is garbage, expired, signed with another key or
    with the constant development gateways once used, unsigned, or of a stale version."""
    token = "not-a-jwt" if case == "garbage" else _bad_token(gateway, case)
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        assert_401(await client.get("/api/me", headers={"Authorization": f"Bearer {token}"}))
        client.cookies.set("gpuchat_session", token)
        assert_401(await client.get("/api/me"))


async def test_a_token_signed_with_the_gateways_secret_is_accepted(
    gateway: RunningGateway,
) -> None:
    """The other side of the cases above: only the claims or the key make them fail."""
    async with gateway.state.sessions() as session:
        admin = await session.get(User, 1)
        assert admin is not None
        version = admin.token_version
    token = jwt.encode(_claims(ver=version), gateway.state.settings.session_secret, "HS256")
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        me = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["role"] == "admin"


async def test_disabled_user_sessions_and_keys_stop_at_once(gateway: RunningGateway) -> None:
    await gateway.create_user("soon-disabled@example.com")
    key = await gateway.new_key("soon-disabled@example.com")
    async with (
        gateway.login("soon-disabled@example.com") as browser,
        gateway.client() as admin,
        gateway.client(key) as program,
    ):
        assert (await browser.get("/api/me")).status_code == 200
        assert (await program.get("/v1/models")).status_code == 200
        user_id = (await browser.get("/api/me")).json()["id"]
        assert (
            await admin.patch(f"/api/admin/users/{user_id}", json={"disabled": True})
        ).status_code == 200
        assert_401(await browser.get("/api/me"))
        assert_401(await program.get("/v1/models"))


async def test_password_change_ends_other_sessions(gateway: RunningGateway) -> None:
    await gateway.create_user("changer@example.com")
    async with (
        gateway.login("changer@example.com") as first,
        gateway.login("changer@example.com") as second,
    ):
        wrong = await first.post(
            "/api/me/password",
            json={"current_password": "not-it-123", "new_password": "brand-new-pass"},
        )
        assert wrong.status_code == 400 and wrong.json()["error"]["param"] == "current_password"
        changed = await first.post(
            "/api/me/password",
            json={"current_password": USER_PASSWORD, "new_password": "brand-new-pass"},
        )
        assert changed.status_code == 200
        assert (await first.get("/api/me")).status_code == 200  # this session got a fresh cookie
        assert_401(await second.get("/api/me"))
    async with gateway.login("changer@example.com", "brand-new-pass") as again:
        assert (await again.get("/api/me")).json()["email"] == "changer@example.com"


async def test_parallel_wrong_passwords_are_counted_before_they_are_verified(
    gateway: RunningGateway,
) -> None:
    """Forty guesses at once for one account: only the limit's worth (5) is ever verified;
    the rest are refused with 429 without a password check."""
    await gateway.create_user("raced@example.com")

    async def guess(client: httpx.AsyncClient, n: int) -> httpx.Response:
        return await client.post(
            "/api/auth/login",
            json={"email": "raced@example.com", "password": f"guess-{n}"},
            headers={"X-Forwarded-For": f"10.40.{n // 200}.{n % 200}"},
        )

    async with httpx.AsyncClient(base_url=gateway.url, timeout=60) as client:
        answers = await asyncio.gather(*(guess(client, n) for n in range(40)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses.count(401) <= 5, statuses
    assert set(statuses) <= {401, 429}, statuses


async def test_a_login_burst_leaves_the_database_to_others(gateway: RunningGateway) -> None:
    """Logins waiting for a hashing thread hold no database connection: while sixty
    arrive at once (every account and address different), another user is served, and
    every login answers 401 or a fast 429, never a 5xx."""
    await gateway.create_user("bystander@example.com")
    async with gateway.login("bystander@example.com") as bystander:

        async def guess(client: httpx.AsyncClient, n: int) -> httpx.Response:
            return await client.post(
                "/api/auth/login",
                json={"email": f"burst{n}@example.com", "password": "guess-guess"},
                headers={"X-Forwarded-For": f"10.41.{n // 200}.{n % 200}"},
            )

        async with httpx.AsyncClient(base_url=gateway.url, timeout=60) as client:
            burst = asyncio.gather(*(guess(client, n) for n in range(60)))
            me = await bystander.get("/api/me")
            answers = await burst
    assert me.status_code == 200
    statuses = {r.status_code for r in answers}
    assert statuses <= {401, 429}, statuses
    busy = [r for r in answers if r.status_code == 429]
    assert all(r.json()["error"]["code"] == "hashing_busy" for r in busy)


async def test_password_change_is_throttled_like_a_login(gateway: RunningGateway) -> None:
    await gateway.create_user("guesser@example.com")
    async with gateway.login("guesser@example.com") as browser:
        answers = [
            await browser.post(
                "/api/me/password",
                json={"current_password": f"not-it-{n}", "new_password": "whatever-123"},
            )
            for n in range(9)
        ]
        right = await browser.post(
            "/api/me/password",
            json={"current_password": USER_PASSWORD, "new_password": "whatever-123"},
        )
    assert [r.status_code for r in answers] == [400] * 5 + [429] * 4
    assert int(answers[-1].headers["retry-after"]) >= 1
    assert right.status_code == 429  # within the minute, not even the right one
