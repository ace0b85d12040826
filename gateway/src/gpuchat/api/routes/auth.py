"""Log in (session cookie for the web UI, the same token in the body for scripts), log out."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from gpuchat.api.deps import SESSION_COOKIE, SessionDep, StateDep
from gpuchat.core.config import Settings
from gpuchat.db.models import User
from gpuchat.schemas.users import LoginRequest, SessionPublic, UserPublic
from gpuchat.services import accounts

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post("/login", responses={401: {}, 429: {}, 503: {}})
async def login(
    body: LoginRequest, request: Request, response: Response, state: StateDep, session: SessionDep
) -> SessionPublic:
    user = await accounts.login(
        request, session, state.limiter, state.settings, body.email, body.password
    )
    return issue_session(response, user, state.settings)


def issue_session(response: Response, user: User, settings: Settings) -> SessionPublic:
    """Set the HttpOnly session cookie and return the same token for scripts."""
    token = accounts.session_token(user, settings)
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
async def logout(response: Response, state: StateDep) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        secure=state.settings.is_production,
        samesite="strict",
    )
