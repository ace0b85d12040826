"""Types shared by the API schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_DB_ID = 2_147_483_647  # PostgreSQL `integer`: a larger id is a 422, never a 500
# The moments a filter or cursor may name: what every database stores and every date
# computation (a day added to the end of a range) survives.
MIN_MOMENT = datetime(1970, 1, 1, tzinfo=UTC)
MAX_MOMENT = datetime(9000, 1, 1, tzinfo=UTC)

DbId = Annotated[int, Field(ge=1, le=MAX_DB_ID)]
PathId = Annotated[int, Path(ge=1, le=MAX_DB_ID)]


def has_nul(value: Any) -> bool:
    """A NUL character anywhere in a string, list or mapping (PostgreSQL cannot store it)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(item) for item in value)
    return False


class WriteModel(BaseModel):
    """A request body: unknown fields refused, and no text field carries a NUL character
    (stored byte-exact on SQLite, refused by PostgreSQL: a 422 here on both, never a 500)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if has_nul(value):
            raise ValueError("must not contain NUL characters")
        return value
