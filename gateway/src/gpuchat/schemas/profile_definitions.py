"""API schemas of the profile editor (`/api/admin/profiles/definitions`, `/preview`,
`/export`). A profile travels as its document (the fields the administrator set) and as
YAML text, the editor's format; its schema is engines/profiles.py `Profile`, the same as
profiles.yaml's, so a field added there needs no change here or in the UI."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# The text of one profile: the engine schema caps it again (64 KiB, no YAML aliases).
MAX_TEXT = 64 * 1024


class ProfileText(BaseModel):
    """One profile as YAML (or JSON) text."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=MAX_TEXT)


class ProfileClone(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=63, description="The copy's name; aliases are not copied")


class ProfileDefinitionPublic(BaseModel):
    name: str
    document: dict[str, Any] = Field(description="The fields set, as validated")
    text: str = Field(description="The document as YAML, for the editor")
    updated: datetime | None
    updated_by: int | None
    restart_needed: bool = Field(
        description="Edited while its engine runs: the old settings run until it restarts"
    )


class ProfileDefinitionsPublic(BaseModel):
    source: Literal["database", "file"]
    editable: bool = Field(description="False: GPUCHAT_PROFILES_SOURCE=file")
    data: list[ProfileDefinitionPublic]


class EnvPublic(BaseModel):
    name: str
    value: str | None = Field(description="null: a secret, read from `source` at start")
    source: str | None = Field(description="The gateway's environment variable it comes from")


class ProfilePreviewPublic(BaseModel):
    name: str
    engine: str
    argv: list[str] | None = Field(description="null: an external engine, nothing is run")
    env: list[EnvPublic]
    urls: list[str]
    unavailable: str | None = Field(description="Why this host could not start it now")
