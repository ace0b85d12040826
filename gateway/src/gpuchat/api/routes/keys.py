"""The caller's own API keys. The full key is in the creation response and nowhere else."""

from __future__ import annotations

from fastapi import APIRouter

from gpuchat.api.deps import CurrentPrincipal, CurrentUser, RequestActor, SessionDep, StateDep
from gpuchat.core.errors import GatewayError
from gpuchat.db.repositories import keys
from gpuchat.schemas.common import PathId
from gpuchat.schemas.keys import KeyCreate, KeyCreated, KeyPublic, KeysPublic
from gpuchat.services.accounts.access import new_key_scope
from gpuchat.services.audit.record import Action, Target, record

router = APIRouter(prefix="/api/keys", tags=["keys"])


@router.get("")
async def list_keys(user: CurrentUser, session: SessionDep) -> KeysPublic:
    rows = await keys.list_keys(session, user.id)
    return KeysPublic(data=[KeyPublic.model_validate(row) for row in rows])


@router.post("", status_code=201, responses={403: {}})
async def create_key(
    body: KeyCreate, user: CurrentUser, principal: CurrentPrincipal, session: SessionDep
) -> KeyCreated:
    """A session creates any key; an API key only keys within its own scope."""
    scope = new_key_scope(principal, body.expires_at, body.allowed_models)
    key, secret = await keys.create_api_key(
        session, user, body.name, expires=scope.expires, allowed_models=scope.allowed_models
    )
    await session.commit()
    return KeyCreated.model_validate({**KeyPublic.model_validate(key).model_dump(), "key": secret})


@router.delete("/{key_id}", status_code=204, responses={404: {}})
async def revoke_key(
    key_id: PathId,
    user: CurrentUser,
    principal: CurrentPrincipal,
    actor: RequestActor,
    session: SessionDep,
    state: StateDep,
) -> None:
    """A key an admin revokes is in the audit log (a user's own revocations are not)."""
    key = await keys.get_own_key(session, user.id, key_id)
    if key is None:
        raise GatewayError(404, "API key not found", code="key_not_found")
    key.revoked = True
    if principal.is_admin:
        target = Target("key", key.id, f"{key.prefix} {key.name}")
        record(session, actor, Action.key_revoke, target, {"revoked": False}, {"revoked": True})
    await session.commit()
    state.principals.forget_key(key.id)
