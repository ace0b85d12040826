"""Single sign-on with OpenID Connect: the redirect to the provider and the way back.

Both are browser navigations (GET), so failures are redirects to the login page with a
short `sso_error` code it translates, never a JSON error page. On success the browser gets
the same session cookie as a password login. Design notes: docs/sso.md; threats:
docs/security.md.
"""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import quote, urlsplit

import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse

from gpuchat.api.deps import StateDep
from gpuchat.api.routes.auth import issue_session
from gpuchat.core.config import Settings
from gpuchat.core.errors import GatewayError
from gpuchat.schemas.auth import AuthOptions, SsoOption
from gpuchat.services.accounts import groups, oidc, sso
from gpuchat.services.accounts.oidc import FLOW_COOKIE, FLOW_COOKIE_PATH, SignInFailed

router = APIRouter(prefix="/api/auth", tags=["auth"])
log = structlog.get_logger(__name__)

LOGIN_URL = "/api/auth/oidc/login"
# Codes can be long (Entra's run past 1,000 characters), so the query may approach the
# server's header limit: beyond it the server itself answers 431 (core/server.py).
TOO_LARGE: dict[int | str, dict[str, object]] = {
    431: {"description": "The request line and headers are over the server's limit"}
}
Param = Annotated[str | None, Query(max_length=4096)]


@router.get("/options")
async def auth_options(state: StateDep) -> AuthOptions:
    """What the login page offers: the SSO button, and whether the password form is used."""
    settings = state.settings
    option = None
    if state.oidc is not None:
        option = SsoOption(name=settings.oidc_display_name, login_url=LOGIN_URL)
    return AuthOptions(password_login=settings.password_login.value, sso=option)


def safe_next(value: str | None) -> str:
    """A path on this origin to land on after signing in; anything else is `/`.
    `//host`, `/\\host`, `https://host` and control characters would leave the site."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def _redirect_uri(request: Request, settings: Settings) -> str:
    return settings.oidc_redirect_url or str(request.url_for("oidc_callback"))


def _to_login(reason: str) -> RedirectResponse:
    return RedirectResponse(f"/login?sso_error={quote(reason)}", status_code=303)


def _clear_flow(response: RedirectResponse, settings: Settings) -> None:
    response.delete_cookie(
        FLOW_COOKIE,
        path=FLOW_COOKIE_PATH,
        httponly=True,
        secure=settings.is_production,
        samesite="lax",
    )


@router.get(
    "/oidc/login",
    response_class=RedirectResponse,
    status_code=302,
    responses={404: {}, **TOO_LARGE},
)
async def oidc_login(
    request: Request,
    state: StateDep,
    next_path: Annotated[str | None, Query(alias="next", max_length=2048)] = None,
) -> RedirectResponse:
    """Off to the provider: a fresh state, nonce and PKCE verifier, kept in a signed,
    HttpOnly, SameSite=Lax cookie for the way back (Lax: the provider's redirect back is
    a top-level GET from another site)."""
    provider, settings = state.oidc, state.settings
    if provider is None:
        raise GatewayError(404, "Single sign-on is not configured", code="sso_not_configured")
    flow = oidc.new_flow(safe_next(next_path))
    try:
        url = await provider.authorization_url(flow, _redirect_uri(request, settings))
    except SignInFailed as exc:
        log.warning("sso_unavailable", reason=str(exc))
        return _to_login(exc.reason)
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(
        FLOW_COOKIE,
        oidc.seal_flow(flow, settings.session_secret),
        max_age=oidc.FLOW_TTL_SECONDS,
        path=FLOW_COOKIE_PATH,
        httponly=True,
        secure=settings.is_production,
        samesite="lax",
    )
    return response


@router.get(
    "/oidc/callback",
    name="oidc_callback",
    response_class=RedirectResponse,
    status_code=303,
    responses=TOO_LARGE,
)
async def oidc_callback(
    request: Request,
    state: StateDep,
    code: Param = None,
    state_: Annotated[str | None, Query(alias="state", max_length=4096)] = None,
    error: Param = None,
) -> RedirectResponse:
    """Back from the provider: the state must match this browser's cookie (CSRF), the
    code is exchanged once with the PKCE verifier, the ID token validated; then the
    session cookie, and on to where the user was going."""
    provider, settings = state.oidc, state.settings
    if provider is None:
        return _to_login("unavailable")
    flow = oidc.open_flow(request.cookies.get(FLOW_COOKIE), settings.session_secret)
    try:
        if flow is None or state_ is None or not secrets.compare_digest(flow.state, state_):
            raise SignInFailed("state")
        if error is not None:
            raise SignInFailed("denied" if error == "access_denied" else "provider", error[:64])
        if not code:
            raise SignInFailed("provider", "no code")
        identity = await provider.exchange(code, flow, _redirect_uri(request, settings))
        user = await sso.sign_in(state.sessions, settings, identity)
        if settings.oidc_sync_groups and settings.oidc_groups_claim in identity.claims:
            names = sso.provider_groups(identity.claims, settings.oidc_groups_claim)
            await groups.set_user_groups(state.sessions, state.principals, user.id, names)
    except SignInFailed as exc:
        log.warning("sso_refused", reason=str(exc))
        response = _to_login(exc.reason)
    else:
        log.info("sso_signed_in", user_id=user.id, role=user.role)
        state.principals.forget_user(user.id)
        response = RedirectResponse(flow.next_path, status_code=303)
        issue_session(response, user, settings)
    _clear_flow(response, settings)  # one try per redirect: the cookie is spent either way
    return response
