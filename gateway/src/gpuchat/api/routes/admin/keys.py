"""Admin: another user's API keys. An admin lists them and revokes one (a leaked key, a
person leaving); the revocation is in the audit log and the key stops at once."""

from __future__ import annotations

from fastapi import APIRouter

from gpuchat.api.deps import AdminPrincipal, AuditActor, SessionDep, StateDep
from gpuchat.core.errors import GatewayError
from gpuchat.db.models import User
from gpuchat.db.repositories import keys
from gpuchat.schemas.common import PathId
from gpuchat.schemas.keys import KeyPublic, KeysPublic
from gpuchat.services.audit.record import Action, Target, record

router = APIRouter(prefix="/api/admin/users/{user_id}/keys", tags=["admin"])


async def _user(session: SessionDep, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise GatewayError(404, "User not found", code="user_not_found")
    return user


@router.get("", responses={404: {}})
async def list_user_keys(user_id: PathId, _: AdminPrincipal, session: SessionDep) -> KeysPublic:
    """The user's keys that still work (names, prefixes, scopes; never the secrets)."""
    user = await _user(session, user_id)
    rows = await keys.list_keys(session, user.id)
    return KeysPublic(data=[KeyPublic.model_validate(row) for row in rows])


@router.delete("/{key_id}", status_code=204, responses={404: {}})
async def revoke_user_key(
    user_id: PathId, key_id: PathId, actor: AuditActor, session: SessionDep, state: StateDep
) -> None:
    user = await _user(session, user_id)
    key = await keys.get_own_key(session, user.id, key_id)
    if key is None:
        raise GatewayError(404, "API key not found", code="key_not_found")
    key.revoked = True
    target = Target("key", key.id, f"{key.prefix} {key.name} ({user.email})")
    record(session, actor, Action.key_revoke, target, {"revoked": False}, {"revoked": True})
    await session.commit()
    state.principals.forget_key(key.id)
