"""API key schemas. The full key appears only in `KeyCreated`, once."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from gpuchat.schemas.common import WriteModel

ModelName = Annotated[str, Field(min_length=1, max_length=128)]


class KeyCreate(WriteModel):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    expires_at: datetime | None = None
    allowed_models: Annotated[list[ModelName], Field(min_length=1, max_length=100)] | None = None


class KeyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    created: datetime
    last_used: datetime | None
    expires: datetime | None
    allowed_models: list[str] | None


class KeyCreated(KeyPublic):
    key: str = Field(description="The full key. It is shown only in this response.")


class KeysPublic(BaseModel):
    data: list[KeyPublic]
