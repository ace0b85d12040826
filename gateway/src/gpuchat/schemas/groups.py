"""API schemas for groups (`/api/admin/groups`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from gpuchat.schemas.common import WriteModel
from gpuchat.schemas.users import UserLimits


def _clean_name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters")
    return value


# Shown as text everywhere; any printable character (a provider's "/org/team" too).
GroupName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_clean_name)]
ModelName = Annotated[str, Field(min_length=1, max_length=128)]
ModelNames = Annotated[
    list[ModelName],
    Field(max_length=100, description="Profile names or aliases; empty: every model."),
]
Description = Annotated[str, Field(max_length=2000)]


class GroupCreate(WriteModel):
    name: GroupName
    description: Description = ""
    models: ModelNames = Field(default_factory=list)
    limits: UserLimits | None = None


class GroupUpdate(WriteModel):
    name: GroupName | None = None
    description: Description | None = None
    models: ModelNames | None = None
    limits: UserLimits | None = None


class GroupMemberPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str


class GroupPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str
    models: list[str]
    limits: UserLimits | None
    created: datetime
    member_count: int = 0


class GroupDetail(GroupPublic):
    members: list[GroupMemberPublic]


class GroupsPublic(BaseModel):
    data: list[GroupPublic]
    total: int
