"""Annotated dependencies: route bodies hold no auth or plumbing code.

A caller is authenticated by, in order: `Authorization: Bearer <API key>`,
`Authorization: Bearer <session token>` (scripts that logged in), or the session cookie
(the web UI; for a write, only from this origin: `core/origins.py`). A session's user row
is read on every request; an API key's caller is remembered for a few seconds
(`services/accounts/principals.py`), and forgotten at once when this process revokes the key or
changes the user, so a disabled user, a revoked key or a demoted admin stops at the next
call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from gpuchat.core import security
from gpuchat.core.db import read_session
from gpuchat.core.errors import GatewayError
from gpuchat.core.network import client_address
from gpuchat.core.origins import SAFE_METHODS, cross_origin_reason
from gpuchat.core.security import Principal
from gpuchat.db.models import Conversation, User
from gpuchat.db.repositories import conversations
from gpuchat.db.repositories.keys import principal_for_api_key
from gpuchat.db.repositories.users import principal_for_session
from gpuchat.schemas.common import PathId
from gpuchat.services.audit.record import Actor
from gpuchat.state import AppState

SESSION_COOKIE = "gpuchat_session"


async def get_state(request: Request) -> AppState:  # async: a plain def runs in a thread
    state: AppState = request.app.state.gpuchat
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_db(state: StateDep) -> AsyncIterator[AsyncSession]:
    """A session for one plain route. Streaming routes must not hold one: they write at the
    start and in `finally` with their own short sessions."""
    async with state.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_db)]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise GatewayError(
            401, "The Authorization header must be 'Bearer <key>'", code="invalid_authorization"
        )
    return token.strip()


def _presented_token(request: Request) -> tuple[str | None, bool]:
    """The credential the request carries, and whether it came from the session cookie."""
    token = _bearer(request)
    if token is not None:
        return token, False
    return request.cookies.get(SESSION_COOKIE), True


def presented_session(request: Request, state: AppState) -> security.SessionClaims | None:
    """The valid session token the request carries (for logout), if any."""
    token, from_cookie = _presented_token(request)
    if not token or (not from_cookie and token.startswith(security.API_KEY_PREFIX)):
        return None
    return security.read_session_token(token, state.settings.session_secret)


async def _authenticate(request: Request, state: AppState) -> Principal:
    token, from_cookie = _presented_token(request)
    if not token:
        raise GatewayError(
            401, "Authentication required: an API key or a session", code="not_authenticated"
        )
    if from_cookie and request.method not in SAFE_METHODS:
        reason = cross_origin_reason(request, state.settings.cors_origins)
        if reason is not None:
            raise GatewayError(
                403,
                "Cross-origin requests cannot use the session cookie to change anything",
                code="cross_origin_refused",
            )
    if not from_cookie and token.startswith(security.API_KEY_PREFIX):
        principal = await _principal_for_key(state, token)
    else:
        claims = security.read_session_token(token, state.settings.session_secret)
        principal = None
        if claims:
            async with read_session(state.sessions) as session:
                principal = await principal_for_session(session, claims)
    if principal is None:
        raise GatewayError(
            401, "The credentials are invalid, revoked or expired", code="invalid_credentials"
        )
    return principal


async def _principal_for_key(state: AppState, key: str) -> Principal | None:
    digest = security.api_key_digest(key)
    principal = state.principals.get(digest)
    if principal is not None:
        return principal
    async with read_session(state.sessions) as session:
        found = await principal_for_api_key(session, digest)
    if found is None:
        return None
    principal, expires = found
    state.principals.put(digest, principal, expires)
    return principal


async def get_principal(request: Request, state: StateDep) -> Principal:
    with state.tracing.span("authenticate"):
        principal = await _authenticate(request, state)
    request.scope["state"].setdefault("log", {})["user_id"] = principal.user_id
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def get_admin(principal: CurrentPrincipal) -> Principal:
    if not principal.is_admin:
        raise GatewayError(403, "Administrator rights are required", code="admin_required")
    return principal


AdminPrincipal = Annotated[Principal, Depends(get_admin)]


async def get_actor(request: Request, principal: CurrentPrincipal, state: StateDep) -> Actor:
    """The caller as the audit log records them (services/audit)."""
    return Actor(
        user_id=principal.user_id,
        email=principal.email,
        request_id=request.scope.get("state", {}).get("request_id"),
        client_ip=client_address(request, state.settings.trusted_proxies)[:64],
    )


RequestActor = Annotated[Actor, Depends(get_actor)]


async def get_audit_actor(_: AdminPrincipal, actor: RequestActor) -> Actor:
    """The admin making this request, for routes that record what they change."""
    return actor


AuditActor = Annotated[Actor, Depends(get_audit_actor)]


async def get_current_user(principal: CurrentPrincipal, session: SessionDep) -> User:
    """The caller's user row, in this request's session (for routes that change it)."""
    user = await session.get(User, principal.user_id)
    if user is None:
        raise GatewayError(401, "The user no longer exists", code="invalid_credentials")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_owned_conversation(
    conversation_id: PathId, principal: CurrentPrincipal, session: SessionDep
) -> Conversation:
    """The caller's conversation; another user's answers exactly like a missing one."""
    conversation = await conversations.get_owned(session, principal.user_id, conversation_id)
    if conversation is None:
        raise GatewayError(404, "Conversation not found", code="conversation_not_found")
    return conversation


OwnedConversation = Annotated[Conversation, Depends(get_owned_conversation)]
