"""API schemas of the audit log (`/api/admin/audit`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import BaseModel, ConfigDict

ActionPrefix = Annotated[
    str | None,
    Query(
        max_length=64,
        pattern=r"^[a-z][a-z0-9_.]*$",
        description="An action code or its start: `user` matches `user.role`, `user.create`...",
    ),
]
ActorFilter = Annotated[
    str | None, Query(max_length=320, description="A user id, an email, or `cli`")
]
TargetFilter = Annotated[
    str | None,
    Query(max_length=400, description="`type`, `type:id-or-name`, or an id or name alone"),
]


class AuditEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created: datetime
    actor_id: int | None
    actor_email: str
    action: str
    target_type: str
    target_id: str | None
    target_name: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    client_ip: str | None


class AuditLogPublic(BaseModel):
    data: list[AuditEntryPublic]
    total: int
