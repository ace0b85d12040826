"""The caller's own API keys. The full key is in the creation response and nowhere else."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter

from gpuchat.api.deps import CurrentUser, SessionDep, StateDep
from gpuchat.core.errors import GatewayError
from gpuchat.db.repositories import keys
from gpuchat.schemas.common import PathId
from gpuchat.schemas.keys import KeyCreate, KeyCreated, KeyPublic, KeysPublic

router = APIRouter(prefix="/api/keys", tags=["keys"])


@router.get("")
async def list_keys(user: CurrentUser, session: SessionDep) -> KeysPublic:
    rows = await keys.list_keys(session, user.id)
    return KeysPublic(data=[KeyPublic.model_validate(row) for row in rows])


@router.post("", status_code=201)
async def create_key(body: KeyCreate, user: CurrentUser, session: SessionDep) -> KeyCreated:
    expires = body.expires_at
    if expires is not None:
        expires = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
        if expires <= datetime.now(UTC):
            raise GatewayError(
                422, "expires_at must be in the future", code="invalid_value", param="expires_at"
            )
    key, secret = await keys.create_api_key(
        session, user, body.name, expires=expires, allowed_models=body.allowed_models
    )
    await session.commit()
    return KeyCreated.model_validate({**KeyPublic.model_validate(key).model_dump(), "key": secret})


@router.delete("/{key_id}", status_code=204, responses={404: {}})
async def revoke_key(
    key_id: PathId, user: CurrentUser, session: SessionDep, state: StateDep
) -> None:
    key = await keys.get_own_key(session, user.id, key_id)
    if key is None:
        raise GatewayError(404, "API key not found", code="key_not_found")
    key.revoked = True
    await session.commit()
    state.principals.forget_key(key.id)
