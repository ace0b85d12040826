"""Single sign-on end to end: a real OpenID provider (oidc-provider) in a subprocess, its
login form driven like a browser, the gateway's redirect and callback, the session after."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from gpuchat.core.config import PasswordLogin
from gpuchat.core.db import session_scope
from gpuchat.db.models import User
from gpuchat.db.repositories import users
from gpuchat.services.accounts import oidc
from tests.utils.gateway import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    USER_PASSWORD,
    RunningGateway,
    free_port,
    start_gateway_on,
)
from tests.utils.oidc import (
    CLIENT_ID,
    CLIENT_SECRET,
    RunningProvider,
    abort_at_provider,
    provider_login,
    start_provider,
)

ACCOUNTS = {
    "carol": {"email": "carol@corp.test", "email_verified": True, "groups": ["gpuchat-admins"]},
    "unverified": {"email": "local-a@example.com", "email_verified": False, "groups": []},
    "verified": {"email": "local-b@example.com", "email_verified": True, "groups": ["staff"]},
    "nomail": {"groups": []},
    "erin": {"email": "erin@corp.test", "email_verified": True, "groups": ["staff", "nope"]},
}


@dataclass
class Sso:
    gateway: RunningGateway
    provider: RunningProvider


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def sso(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Sso]:
    data_dir = tmp_path_factory.mktemp(f"sso-{request.param}")
    port = free_port()
    async with (
        start_gateway_on(
            request.param,
            data_dir,
            oidc_discovery_url=f"http://127.0.0.1:{port}/.well-known/openid-configuration",
            oidc_client_id=CLIENT_ID,
            oidc_client_secret=SecretStr(CLIENT_SECRET),
            oidc_display_name="Corp SSO",
            oidc_admin_groups=["gpuchat-admins"],
            oidc_sync_groups=True,
        ) as gateway,
        start_provider(port, f"{gateway.url}/api/auth/oidc/callback", ACCOUNTS) as provider,
    ):
        yield Sso(gateway, provider)


@asynccontextmanager
async def browser(sso: Sso) -> AsyncIterator[httpx.AsyncClient]:
    """A browser: one cookie jar for the gateway and the provider, redirects by hand."""
    async with httpx.AsyncClient(base_url=sso.gateway.url, timeout=30) as client:
        yield client


async def start_login(client: httpx.AsyncClient, next_path: str | None = None) -> str:
    params = {"next": next_path} if next_path is not None else {}
    response = await client.get("/api/auth/oidc/login", params=params)
    assert response.status_code == 302
    return response.headers["location"]


async def sign_in(sso: Sso, client: httpx.AsyncClient, login: str, next_path: str = "/") -> str:
    """The whole flow; where the gateway sends the browser at the end."""
    authorize = await start_login(client, next_path)
    callback = await provider_login(client, authorize, login, sso.gateway.url)
    response = await client.get(callback)
    assert response.status_code == 303, response.text
    return response.headers["location"]


async def me(client: httpx.AsyncClient) -> httpx.Response:
    return await client.get("/api/me")


async def get_user(sso: Sso, email: str) -> User:
    async with session_scope(sso.gateway.state.sessions) as session:
        user = await users.get_user_by_email(session, email)
    assert user is not None
    return user


async def test_sso_options_offer_the_provider_by_name(sso: Sso) -> None:
    async with browser(sso) as client:
        options = (await client.get("/api/auth/options")).json()
    assert options == {
        "password_login": "all",
        "sso": {"name": "Corp SSO", "login_url": "/api/auth/oidc/login"},
    }


async def test_sso_first_sign_in_creates_the_user_with_a_session(sso: Sso) -> None:
    async with browser(sso) as client:
        assert await sign_in(sso, client, "bob", "/settings?tab=keys") == "/settings?tab=keys"
        profile = await me(client)
    assert profile.status_code == 200
    assert profile.json()["email"] == "bob@sso.test"
    assert profile.json()["role"] == "user"
    user = await get_user(sso, "bob@sso.test")
    assert user.password_hash is None
    assert (user.oidc_issuer, user.oidc_subject) == (sso.provider.issuer, "bob")


async def test_sso_sign_in_puts_the_user_in_the_gpuchat_groups_the_provider_names(
    sso: Sso,
) -> None:
    """GPUCHAT_OIDC_SYNC_GROUPS: the provider's `staff` is a gpuchat group, its `nope` is not
    (ignored, never created); a membership the provider does not name is undone."""
    async with sso.gateway.client() as admin:
        staff = await admin.post("/api/admin/groups", json={"name": "staff"})
        other = await admin.post("/api/admin/groups", json={"name": "contractors"})
        assert (staff.status_code, other.status_code) == (201, 201)
        async with browser(sso) as client:
            await sign_in(sso, client, "erin")
            first = (await me(client)).json()["groups"]
        erin = await get_user(sso, "erin@corp.test")
        added = await admin.put(f"/api/admin/groups/{other.json()['id']}/members/{erin.id}")
        assert added.status_code == 204
        async with browser(sso) as client:
            await sign_in(sso, client, "erin")
            again = (await me(client)).json()["groups"]
        names = [g["name"] for g in (await admin.get("/api/admin/groups")).json()["data"]]
    assert first == ["staff"]
    assert again == ["staff"]
    assert "nope" not in names


async def test_sso_cookies_are_httponly_and_scoped(sso: Sso) -> None:
    async with browser(sso) as client:
        response = await client.get("/api/auth/oidc/login")
        flow_cookie = response.headers["set-cookie"].lower()
        assert "httponly" in flow_cookie
        assert "samesite=lax" in flow_cookie
        assert "path=/api/auth/oidc" in flow_cookie
        callback = await provider_login(
            client, response.headers["location"], "erin", sso.gateway.url
        )
        done = await client.get(callback)
    cookies = [c.lower() for c in done.headers.get_list("set-cookie")]
    session = next(c for c in cookies if c.startswith("gpuchat_session="))
    assert "httponly" in session and "samesite=strict" in session
    spent = next(c for c in cookies if c.startswith("gpuchat_oidc="))
    assert "max-age=0" in spent  # the flow cookie is spent on the way back


async def test_sso_role_follows_the_admin_group_at_each_sign_in(sso: Sso) -> None:
    async with browser(sso) as client:
        await sign_in(sso, client, "carol")
        assert (await me(client)).json()["role"] == "admin"
        assert (await client.get("/api/admin/users")).status_code == 200
    # Made admin by hand in gpuchat, but in no admin group at the provider: the next
    # sign-in sets the role from the groups again.
    async with browser(sso) as client:
        await sign_in(sso, client, "frank")
    async with session_scope(sso.gateway.state.sessions) as session:
        await session.execute(
            update(User).where(User.email == "frank@sso.test").values(role="admin")
        )
    async with browser(sso) as client:
        await sign_in(sso, client, "frank")
        assert (await me(client)).json()["role"] == "user"
        assert (await client.get("/api/admin/users")).status_code == 403


@pytest.mark.parametrize("tampered", ["other-state", None])
async def test_sso_a_state_that_does_not_match_is_refused(sso: Sso, tampered: str | None) -> None:
    async with browser(sso) as client:
        authorize = await start_login(client)
        callback = await provider_login(client, authorize, "mallory", sso.gateway.url)
        parts = urlsplit(callback)
        query = parse_qs(parts.query)
        params = {"code": query["code"][0]}
        if tampered is not None:
            params["state"] = tampered
        response = await client.get("/api/auth/oidc/callback", params=params)
        assert response.headers["location"] == "/login?sso_error=state"
        assert (await me(client)).status_code == 401
    async with session_scope(sso.gateway.state.sessions) as session:
        assert await users.get_user_by_email(session, "mallory@sso.test") is None


async def test_sso_a_callback_without_this_browsers_cookie_is_refused(sso: Sso) -> None:
    """Login CSRF: an attacker's own callback URL, opened in the victim's browser."""
    async with browser(sso) as attacker:
        authorize = await start_login(attacker)
        callback = await provider_login(attacker, authorize, "attacker", sso.gateway.url)
    async with browser(sso) as victim:
        response = await victim.get(callback)
        assert response.headers["location"] == "/login?sso_error=state"
        assert "gpuchat_session" not in victim.cookies


async def test_sso_a_nonce_that_does_not_match_is_refused(sso: Sso) -> None:
    """The flow cookie re-signed with another nonce (as if the code were injected into
    another sign-in): the ID token's nonce does not match, no session."""
    secret = sso.gateway.state.settings.session_secret
    async with browser(sso) as client:
        authorize = await start_login(client)
        flow = oidc.open_flow(client.cookies["gpuchat_oidc"], secret)
        assert flow is not None
        forged = oidc.Flow(flow.state, "another-nonce", flow.verifier, flow.next_path)
        callback = await provider_login(client, authorize, "nina", sso.gateway.url)
        client.cookies.set("gpuchat_oidc", oidc.seal_flow(forged, secret))
        response = await client.get(callback)
        assert response.headers["location"] == "/login?sso_error=provider"
        assert (await me(client)).status_code == 401


async def test_sso_a_code_works_once(sso: Sso) -> None:
    async with browser(sso) as client:
        authorize = await start_login(client)
        cookie = client.cookies["gpuchat_oidc"]
        callback = await provider_login(client, authorize, "oscar", sso.gateway.url)
        assert (await client.get(callback)).headers["location"] == "/"
    async with browser(sso) as replay:
        replay.cookies.set("gpuchat_oidc", cookie)
        response = await replay.get(callback)
        assert response.headers["location"] == "/login?sso_error=provider"
        assert "gpuchat_session" not in replay.cookies


async def test_sso_denied_at_the_provider_says_so(sso: Sso) -> None:
    async with browser(sso) as client:
        authorize = await start_login(client)
        callback = await abort_at_provider(client, authorize, sso.gateway.url)
        assert "error=access_denied" in callback
        response = await client.get(callback)
        assert response.headers["location"] == "/login?sso_error=denied"


async def test_sso_a_disabled_user_cannot_sign_in(sso: Sso) -> None:
    async with browser(sso) as client:
        await sign_in(sso, client, "dave")
    async with session_scope(sso.gateway.state.sessions) as session:
        await session.execute(
            update(User).where(User.email == "dave@sso.test").values(disabled=True)
        )
    async with browser(sso) as client:
        assert await sign_in(sso, client, "dave") == "/login?sso_error=disabled"
        assert (await me(client)).status_code == 401


async def test_sso_links_a_local_account_only_for_a_verified_email(sso: Sso) -> None:
    await sso.gateway.create_user("local-a@example.com")
    await sso.gateway.create_user("local-b@example.com")
    async with browser(sso) as client:
        assert await sign_in(sso, client, "unverified") == "/login?sso_error=email_unverified"
        assert (await me(client)).status_code == 401
    assert (await get_user(sso, "local-a@example.com")).oidc_subject is None

    local = await get_user(sso, "local-b@example.com")
    async with browser(sso) as client:
        assert await sign_in(sso, client, "verified") == "/"
        assert (await me(client)).json()["id"] == local.id
    linked = await get_user(sso, "local-b@example.com")
    assert linked.oidc_subject == "verified"
    assert linked.password_hash == local.password_hash  # the password still works


async def test_sso_an_identity_without_email_is_refused(sso: Sso) -> None:
    async with browser(sso) as client:
        assert await sign_in(sso, client, "nomail") == "/login?sso_error=email_missing"


@pytest.mark.parametrize(
    "next_path",
    ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"],
)
async def test_sso_next_never_leaves_the_site(sso: Sso, next_path: str) -> None:
    async with browser(sso) as client:
        assert await sign_in(sso, client, "paula", next_path) == "/"


async def test_sso_users_have_no_password_to_use_or_reset(sso: Sso) -> None:
    async with browser(sso) as client:
        await sign_in(sso, client, "quinn")
        changed = await client.post(
            "/api/me/password",
            json={"current_password": "whatever-123", "new_password": "new-password-123"},
            headers={"Origin": sso.gateway.url},
        )
        assert changed.status_code == 409
        assert changed.json()["error"]["code"] == "no_password"
    login = await password_login(sso, "quinn@sso.test", "")
    assert login.status_code in (401, 422)
    quinn = await get_user(sso, "quinn@sso.test")
    async with sso.gateway.client() as admin:
        reset = await admin.post(f"/api/admin/users/{quinn.id}/password", json={})
    assert reset.status_code == 409


async def password_login(sso: Sso, email: str, password: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=sso.gateway.url, timeout=30) as client:
        return await client.post("/api/auth/login", json={"email": email, "password": password})


async def test_password_login_per_setting(sso: Sso) -> None:
    settings = sso.gateway.state.settings
    await sso.gateway.create_user("plain-user@example.com")
    await sso.gateway.create_user("second-admin@example.com", admin=True)
    try:
        settings.password_login = PasswordLogin.admins
        refused = await password_login(sso, "plain-user@example.com", USER_PASSWORD)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "password_login_disabled"
        wrong = await password_login(sso, "plain-user@example.com", "wrong-password")
        assert wrong.status_code == 401  # a wrong password is told nothing more
        assert (
            await password_login(sso, "second-admin@example.com", USER_PASSWORD)
        ).status_code == 200
        settings.password_login = PasswordLogin.off
        assert (
            await password_login(sso, "second-admin@example.com", USER_PASSWORD)
        ).status_code == 403
        # The first admin always can: a broken identity provider locks nobody out.
        assert (await password_login(sso, ADMIN_EMAIL, ADMIN_PASSWORD)).status_code == 200
        async with browser(sso) as client:
            options = (await client.get("/api/auth/options")).json()
            assert options["password_login"] == "off"
            # SSO still signs the others in.
            assert await sign_in(sso, client, "rita") == "/"
    finally:
        settings.password_login = PasswordLogin.all
    async with session_scope(sso.gateway.state.sessions) as session:
        rita = await session.scalar(select(User).where(User.email == "rita@sso.test"))
    assert rita is not None


async def test_sso_routes_without_a_provider_configured(gateway: RunningGateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        assert (await client.get("/api/auth/options")).json()["sso"] is None
        assert (await client.get("/api/auth/oidc/login")).status_code == 404
        response = await client.get("/api/auth/oidc/callback", params={"code": "x", "state": "y"})
        assert response.headers["location"] == "/login?sso_error=unavailable"
