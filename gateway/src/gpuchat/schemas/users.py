"""API schemas for users, sessions and settings. Writes reject unknown fields, so no
request can set a role, owner or id it was not meant to (mass assignment)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from gpuchat.schemas.common import WriteModel

Email = Annotated[str, Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
Password = Annotated[str, Field(min_length=8, max_length=1024)]
RoleName = Literal["user", "admin"]


class _Write(WriteModel):
    """A request body: no unknown fields, no NUL characters (schemas/common.py)."""


class LoginRequest(_Write):
    email: Annotated[str, Field(min_length=1, max_length=320)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class UserSettings(_Write):
    """What a user sets for themselves; applied when a chat request does not say."""

    system_prompt: Annotated[str, Field(max_length=20_000)] | None = None
    model: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(gt=0, le=1)] | None = None
    max_tokens: Annotated[int, Field(ge=1, le=1_000_000)] | None = None
    language: Literal["ko", "en"] | None = None
    theme: Literal["light", "dark", "system"] | None = None


LimitValue = Annotated[int, Field(ge=0, le=10**15)]


class UserLimits(_Write):
    """Overrides of the default limits (a user's or a group's); null means "use the
    default", 0 "no limit"."""

    requests_per_minute: LimitValue | None = None
    tokens_per_minute: LimitValue | None = None
    concurrent_streams: LimitValue | None = None
    tokens_per_day: LimitValue | None = None
    tokens_per_month: LimitValue | None = None
    requests_per_day: LimitValue | None = None
    requests_per_month: LimitValue | None = None


class PasswordChange(_Write):
    current_password: Annotated[str, Field(min_length=1, max_length=1024)]
    new_password: Password


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    role: RoleName
    disabled: bool
    settings: UserSettings
    limits: UserLimits | None
    created: datetime
    groups: list[str] = Field(
        default_factory=list,
        description="The names of the user's groups (in GET /api/me and the admin's lists).",
    )


class UsersPublic(BaseModel):
    data: list[UserPublic]
    total: int


class SessionPublic(BaseModel):
    token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth token type
    expires_in: int
    user: UserPublic


class UserCreate(_Write):
    email: Email
    password: Password | None = None
    role: RoleName = "user"
    limits: UserLimits | None = None


class UserCreated(BaseModel):
    user: UserPublic
    password: str | None = Field(default=None, description="Only when generated; shown once.")


class UserUpdate(_Write):
    role: RoleName | None = None
    disabled: bool | None = None
    limits: UserLimits | None = None


class PasswordReset(_Write):
    password: Password | None = None


class PasswordResetDone(BaseModel):
    password: str | None = Field(default=None, description="Only when generated; shown once.")
