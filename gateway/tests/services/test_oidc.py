"""ID token validation against a scripted provider: every forged or misdirected token is
refused (the real provider in tests/api/test_sso.py only ever issues good ones)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from gpuchat.services.accounts.oidc import Flow, OidcProvider, SignInFailed
from tests.utils.gateway import free_port

CLIENT = "gpuchat"
KEY = RSAKey.generate_key(2048, parameters={"kid": "good"})
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "good"})  # same kid, not published
FLOW = Flow("state", "the-nonce", "v" * 43, "/")

Forge = Callable[[str], str]  # issuer -> id_token


class Scripted:
    """A provider whose token endpoint answers whatever ID token the test forged."""

    def __init__(self) -> None:
        self.forge: Forge = lambda issuer: ""
        self.url = ""

    async def discovery(self, _: web.Request) -> web.Response:
        return web.json_response(
            {
                "issuer": self.url,
                "authorization_endpoint": f"{self.url}/auth",
                "token_endpoint": f"{self.url}/token",
                "jwks_uri": f"{self.url}/jwks",
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        )

    async def jwks(self, _: web.Request) -> web.Response:
        return web.json_response(KeySet([KEY]).as_dict(private=False))

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        assert form["code_verifier"] == FLOW.verifier
        return web.json_response({"id_token": self.forge(self.url), "token_type": "Bearer"})


@pytest.fixture(scope="module")
async def scripted() -> AsyncIterator[Scripted]:
    provider = Scripted()
    app = web.Application()
    app.router.add_get("/.well-known/openid-configuration", provider.discovery)
    app.router.add_get("/jwks", provider.jwks)
    app.router.add_post("/token", provider.token)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    provider.url = f"http://127.0.0.1:{port}"
    yield provider
    await runner.cleanup()


def claims(issuer: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"iss": issuer, "sub": "u1", "aud": CLIENT, "iat": now, "exp": now + 300}
    base |= {"nonce": FLOW.nonce, "email": "u1@corp.test", "email_verified": True}
    return {k: v for k, v in (base | changes).items() if v is not None}


def signed(key: RSAKey = KEY, **changes: Any) -> Forge:
    return lambda issuer: jwt.encode(
        {"alg": "RS256", "kid": "good"}, claims(issuer, **changes), key
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def part(data: dict[str, Any]) -> str:
    return b64(json.dumps(data).encode())


def unsigned(issuer: str) -> str:
    return f"{part({'alg': 'none'})}.{part(claims(issuer))}."


def hmac_with_public_key(issuer: str) -> str:
    """Algorithm confusion: HS256 keyed with the provider's public key (built by hand:
    JOSE libraries refuse to make one)."""
    signing_input = f"{part({'alg': 'HS256', 'kid': 'good'})}.{part(claims(issuer))}"
    mac = hmac.new(KEY.as_pem(private=False), signing_input.encode(), hashlib.sha256)
    return f"{signing_input}.{b64(mac.digest())}"


async def exchange(scripted: Scripted, forge: Forge) -> Any:
    scripted.forge = forge
    provider = OidcProvider(
        f"{scripted.url}/.well-known/openid-configuration", CLIENT, "secret", "openid"
    )
    try:
        return await provider.exchange("code", FLOW, "http://127.0.0.1/cb")
    finally:
        await provider.close()


async def test_oidc_a_good_id_token_gives_the_identity(scripted: Scripted) -> None:
    identity = await exchange(scripted, signed())
    assert (identity.issuer, identity.subject) == (scripted.url, "u1")
    assert identity.email == "u1@corp.test" and identity.email_verified


@pytest.mark.parametrize(
    "forge",
    [
        signed(aud="another-client"),
        signed(iss="https://evil.example"),
        signed(nonce="another-nonce"),
        signed(nonce=None),
        signed(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200),
        signed(sub=None),
        signed(key=OTHER_KEY),
        unsigned,
        hmac_with_public_key,
    ],
    ids=[
        "audience",
        "issuer",
        "nonce",
        "no-nonce",
        "expired",
        "no-subject",
        "wrong-key",
        "alg-none",
        "hmac-confusion",
    ],
)
async def test_oidc_a_forged_or_misdirected_id_token_is_refused(
    scripted: Scripted, forge: Forge
) -> None:
    with pytest.raises(SignInFailed) as refused:
        await exchange(scripted, forge)
    assert refused.value.reason == "provider"


async def test_oidc_an_unreachable_provider_is_unavailable() -> None:
    provider = OidcProvider(
        f"http://127.0.0.1:{free_port()}/.well-known/openid-configuration", CLIENT, None, "openid"
    )
    try:
        with pytest.raises(SignInFailed) as refused:
            await provider.authorization_url(FLOW, "http://127.0.0.1/cb")
    finally:
        await provider.close()
    assert refused.value.reason == "unavailable"
