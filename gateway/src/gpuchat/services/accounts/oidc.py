"""The OpenID Connect relying party: authorization code + PKCE against one provider.

Authlib supplies the protocol pieces (PKCE challenge, random values, the ID token's claim
rules: iss, aud, azp, exp, iat, nonce, at_hash); joserfc, Authlib's JOSE engine, checks
the signature against the provider's JWKS. The HTTP calls go through this object's own
aiohttp client (proxy settings from the environment are honoured: providers are often
outside). What a browser carries between the redirect and the callback (state, nonce,
PKCE verifier, where to go next) is a short-lived signed cookie: nothing is kept
server-side, so any worker or replica can finish a sign-in another one started.

Authlib and joserfc are imported where a sign-in uses them: most servers run without SSO,
and they would add about 30 ms to every start.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import aiohttp
import jwt

if TYPE_CHECKING:
    from joserfc.jwk import KeySet

FLOW_COOKIE = "gpuchat_oidc"
FLOW_COOKIE_PATH = "/api/auth/oidc"
FLOW_TTL_SECONDS = 600  # time to sign in at the provider
METADATA_TTL_SECONDS = 3600
CLOCK_LEEWAY_SECONDS = 60
_FLOW_ALGORITHM = "HS256"


class SignInFailed(Exception):
    """A sign-in that cannot finish. `reason` is what the login page shows (a short code:
    denied, state, provider, unavailable, disabled, email_missing, email_unverified,
    email_taken)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Flow:
    """One sign-in between the redirect and the callback (the signed cookie's content)."""

    state: str
    nonce: str
    verifier: str
    next_path: str


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the provider says signed in: from a validated ID token (and userinfo)."""

    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    claims: dict[str, Any]


def seal_flow(flow: Flow, secret: str) -> str:
    now = int(time.time())
    payload = {
        "typ": "oidc-flow",
        "st": flow.state,
        "no": flow.nonce,
        "cv": flow.verifier,
        "nx": flow.next_path,
        "iat": now,
        "exp": now + FLOW_TTL_SECONDS,
    }
    return jwt.encode(payload, secret, algorithm=_FLOW_ALGORITHM)


def open_flow(token: str | None, secret: str) -> Flow | None:
    """The flow in a valid, unexpired cookie signed by us; None otherwise."""
    if not token:
        return None
    try:
        claims = jwt.decode(
            token, secret, algorithms=[_FLOW_ALGORITHM], options={"require": ["exp"]}
        )
    except jwt.PyJWTError:
        return None
    values = [claims.get(name) for name in ("st", "no", "cv", "nx")]
    if claims.get("typ") != "oidc-flow":
        return None
    texts = [v for v in values if isinstance(v, str)]
    return Flow(*texts) if len(texts) == len(values) else None


def new_flow(next_path: str) -> Flow:
    return Flow(
        secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48), next_path
    )


def _basic_auth(client_id: str, secret: str) -> str:
    """RFC 6749 2.3.1: both parts form-encoded before the Basic scheme's base64."""
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


class OidcProvider:
    """One configured provider: its metadata and keys (cached), the redirect to it, and
    the code exchange with ID token validation."""

    def __init__(
        self,
        discovery_url: str,
        client_id: str,
        client_secret: str | None,
        scopes: str,
        *,
        timeout_s: float = 10.0,
    ) -> None:
        self._discovery_url = discovery_url
        self.client_id = client_id
        self._client_secret = client_secret
        self._scopes = scopes
        self._http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=True,
        )
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        await self._http.close()

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with self._http.get(url, allow_redirects=False) as response:
                if response.status != 200:
                    raise SignInFailed("unavailable", f"{url} answered {response.status}")
                data = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise SignInFailed("unavailable", f"{url}: {type(exc).__name__}") from exc
        if not isinstance(data, dict):
            raise SignInFailed("unavailable", f"{url} did not answer a JSON object")
        return data

    async def metadata(self) -> dict[str, Any]:
        async with self._lock:
            if (
                self._metadata is None
                or time.monotonic() - self._metadata_at > METADATA_TTL_SECONDS
            ):
                data = await self._get_json(self._discovery_url)
                for name in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
                    if not isinstance(data.get(name), str):
                        raise SignInFailed("unavailable", f"discovery document lacks {name}")
                self._metadata, self._metadata_at, self._keys = data, time.monotonic(), None
            return self._metadata

    async def _key_set(self, *, refresh: bool = False) -> KeySet:
        from joserfc.errors import JoseError
        from joserfc.jwk import KeySet

        if self._keys is None or refresh:
            jwks = await self._get_json((await self.metadata())["jwks_uri"])
            try:
                self._keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
            except (JoseError, ValueError, TypeError, KeyError) as exc:
                raise SignInFailed("unavailable", "the provider's JWKS is unreadable") from exc
        return self._keys

    async def authorization_url(self, flow: Flow, redirect_uri: str) -> str:
        from authlib.oauth2.rfc7636 import create_s256_code_challenge

        endpoint: str = (await self.metadata())["authorization_endpoint"]
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "scope": self._scopes,
                "state": flow.state,
                "nonce": flow.nonce,
                "code_challenge": create_s256_code_challenge(flow.verifier),
                "code_challenge_method": "S256",
            }
        )
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    async def exchange(self, code: str, flow: Flow, redirect_uri: str) -> Identity:
        """Trade the code for tokens (with the PKCE verifier) and validate the ID token."""
        metadata = await self.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": flow.verifier,
            "client_id": self.client_id,
        }
        headers = {}
        if self._client_secret:  # client_secret_basic, what every provider accepts
            headers["Authorization"] = _basic_auth(self.client_id, self._client_secret)
        try:
            async with self._http.post(
                metadata["token_endpoint"], data=form, headers=headers, allow_redirects=False
            ) as response:
                tokens = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise SignInFailed("unavailable", f"token endpoint: {type(exc).__name__}") from exc
        if status != 200 or not isinstance(tokens, dict):
            error = tokens.get("error") if isinstance(tokens, dict) else None
            raise SignInFailed("provider", f"token endpoint answered {status} {error}")
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise SignInFailed("provider", "no id_token in the token response")
        claims = await self._validate(id_token, flow.nonce, tokens.get("access_token"))
        access_token = tokens.get("access_token")
        if isinstance(access_token, str) and metadata.get("userinfo_endpoint"):
            extra = await self._userinfo(metadata["userinfo_endpoint"], access_token)
            if extra.get("sub") == claims["sub"]:  # another subject's answer is ignored
                claims = {**extra, **claims}
        email = claims.get("email")
        return Identity(
            issuer=claims["iss"],
            subject=claims["sub"],
            email=email if isinstance(email, str) and email else None,
            email_verified=claims.get("email_verified") is True,
            claims=claims,
        )

    async def _validate(self, id_token: str, nonce: str, access_token: object) -> dict[str, Any]:
        from authlib.oidc.core import CodeIDToken
        from joserfc import jwt as jose_jwt
        from joserfc.errors import InvalidKeyIdError, JoseError
        from joserfc.jws import JWSRegistry

        metadata = await self.metadata()
        algorithms = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        # Asymmetric signatures only: `none` and HMAC (keyed with a public value) never pass.
        algorithms = [a for a in algorithms if a not in ("none", "HS256", "HS384", "HS512")]
        registry = JWSRegistry(algorithms=algorithms)
        try:
            try:
                token = jose_jwt.decode(id_token, await self._key_set(), registry=registry)
            except InvalidKeyIdError:  # the provider rotated its keys since we fetched them
                token = jose_jwt.decode(
                    id_token, await self._key_set(refresh=True), registry=registry
                )
            params: dict[str, Any] = {"nonce": nonce, "client_id": self.client_id}
            if isinstance(access_token, str):
                params["access_token"] = access_token
            options = {
                "iss": {"essential": True, "value": metadata["issuer"]},
                "aud": {"essential": True, "value": self.client_id},
                "nonce": {"essential": True},
            }
            claims = CodeIDToken(token.claims, token.header, options, params)
            claims.validate(leeway=CLOCK_LEEWAY_SECONDS)
        except (JoseError, ValueError, TypeError) as exc:
            raise SignInFailed("provider", f"ID token refused: {type(exc).__name__}") from exc
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise SignInFailed("provider", "ID token without a subject")
        return dict(claims)

    async def _userinfo(self, url: str, access_token: str) -> dict[str, Any]:
        """Userinfo fills in what the ID token left out (some providers put email and
        groups only there); the ID token's own claims win where both have one."""
        headers = {"Authorization": f"Bearer {access_token}"}
        try:
            async with self._http.get(url, headers=headers, allow_redirects=False) as response:
                if response.status != 200:
                    return {}
                data = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}
