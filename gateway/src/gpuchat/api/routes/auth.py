"""Log in (session cookie for the web UI, the same token in the body for scripts), log out."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from gpuchat.api.deps import (
    SESSION_COOKIE,
    CurrentPrincipal,
    CurrentUser,
    SessionDep,
    StateDep,
    presented_session,
)
from gpuchat.core.config import Settings
from gpuchat.core.db import session_scope
from gpuchat.core.errors import GatewayError
from gpuchat.db.models import User
from gpuchat.db.repositories import users
from gpuchat.schemas.users import LoginRequest, SessionPublic, UserPublic
from gpuchat.services.accounts import access

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/login", responses={401: {}, 429: {}, 503: {}})
async def login(
    body: LoginRequest, request: Request, response: Response, state: StateDep
) -> SessionPublic:
    user = await access.login(
        request, state.sessions, state.limiter, state.settings, body.email, body.password
    )
    return issue_session(response, user, state.settings)


def issue_session(response: Response, user: User, settings: Settings) -> SessionPublic:
    """Set the HttpOnly session cookie and return the same token for scripts."""
    token = access.session_token(user, settings)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_ttl_seconds,
        httponly=True,
        secure=settings.is_production,
        samesite="strict",
        path="/",
    )
    return SessionPublic(
        token=token, expires_in=settings.session_ttl_seconds, user=UserPublic.model_validate(user)
    )


@router.post("/logout", status_code=204)
async def logout(request: Request, response: Response, state: StateDep) -> None:
    """This session ends server-side (the token stops working, not only the cookie)."""
    claims = presented_session(request, state)
    if claims is not None:
        async with session_scope(state.sessions) as session:
            await users.revoke_session(session, claims)
    clear_session_cookie(response, state.settings)


@router.post("/logout-all", status_code=204, responses={403: {}})
async def logout_everywhere(
    response: Response,
    user: CurrentUser,
    principal: CurrentPrincipal,
    session: SessionDep,
    state: StateDep,
) -> None:
    """Every session of the caller ends, on every device (API keys stay)."""
    if principal.api_key_id is not None:
        raise GatewayError(403, "An API key cannot end sessions", code="session_required")
    users.end_all_sessions(user)
    await session.commit()
    clear_session_cookie(response, state.settings)


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        secure=settings.is_production,
        samesite="strict",
    )
