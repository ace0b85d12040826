"""Annotated dependencies: route bodies hold no auth or plumbing code."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gpuchat.core.errors import GatewayError
from gpuchat.core.state import AppState
from gpuchat.db.repositories.users import Principal, principal_for_api_key


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.gpuchat
    return state


StateDep = Annotated[AppState, Depends(get_state)]


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


async def get_principal(request: Request, state: StateDep) -> Principal:
    token = _bearer(request)
    if token is None:
        raise GatewayError(
            401, "An API key is required (Authorization: Bearer <key>)", code="missing_api_key"
        )
    async with state.sessions() as session:
        principal = await principal_for_api_key(session, token)
    if principal is None:
        raise GatewayError(
            401, "The API key is invalid, revoked or expired", code="invalid_api_key"
        )
    request.scope["state"].setdefault("log", {})["user_id"] = principal.user_id
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]
