"""Model profiles: what can run, validated at load from the profiles YAML file."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
Alias = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][\w.:/-]*$")]


class EngineKind(StrEnum):
    vllm = "vllm"
    llamacpp = "llamacpp"
    command = "command"
    external = "external"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Timeouts(_Strict):
    """Seconds. `first_token` includes prefill; `idle` is the longest gap between chunks."""

    connect: float = Field(default=5.0, gt=0)
    first_token: float = Field(default=120.0, gt=0)
    idle: float = Field(default=60.0, gt=0)
    total: float = Field(default=900.0, gt=0)
    start: float = Field(default=300.0, gt=0)


class LlamaCppArgs(_Strict):
    ctx: int = Field(default=4096, ge=256)
    parallel: int = Field(default=4, ge=1, le=64)
    threads: int | None = Field(default=None, ge=1)
    chat_template: str | None = None


class Limits(_Strict):
    """Caps applied to every request for this profile."""

    max_tokens: int = Field(default=4096, ge=1)
    default_max_tokens: int | None = Field(default=None, ge=1)


class Profile(_Strict):
    name: Name
    aliases: list[Alias] = Field(default_factory=list)
    engine: EngineKind
    # HF id, local path, or `packaged:<name>` for a model installed by `gpuchat models install`.
    model: str | None = None
    # The model name sent upstream; defaults to what the engine reports or the profile name.
    served_model_name: str | None = None
    llamacpp: LlamaCppArgs = Field(default_factory=LlamaCppArgs)
    command: list[str] | None = None
    health: str = "/health"
    urls: list[str] = Field(default_factory=list)
    gpus: list[int] = Field(default_factory=list)
    max_concurrency: int = Field(default=4, ge=1)
    limits: Limits = Field(default_factory=Limits)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    description: str = ""

    @model_validator(mode="after")
    def _engine_fields(self) -> Self:
        if self.engine is EngineKind.external and not self.urls:
            raise ValueError("an external profile needs at least one URL in `urls`")
        if self.engine is EngineKind.command and not self.command:
            raise ValueError("a command profile needs `command` (an argv list)")
        if self.engine in (EngineKind.llamacpp, EngineKind.vllm) and not self.model:
            raise ValueError(f"a {self.engine} profile needs `model`")
        return self

    @property
    def names(self) -> list[str]:
        """Everything a client may put in `model` to reach this profile."""
        return [self.name, *self.aliases]


class ProfilesFile(_Strict):
    default: str | None = None
    profiles: list[Profile] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_and_default(self) -> Self:
        seen: dict[str, str] = {}
        for profile in self.profiles:
            for name in profile.names:
                if name in seen and name != "default":
                    raise ValueError(
                        f"'{name}' is used by profiles {seen[name]} and {profile.name}"
                    )
                seen[name] = profile.name
        names = [p.name for p in self.profiles]
        if self.default is not None and self.default not in names:
            raise ValueError(f"default profile '{self.default}' is not defined")
        return self

    @property
    def default_profile(self) -> Profile:
        by_name = {p.name: p for p in self.profiles}
        return by_name[self.default] if self.default else self.profiles[0]

    def get(self, name: str) -> Profile | None:
        return next((p for p in self.profiles if p.name == name), None)


class ProfilesError(Exception):
    """The profiles file is missing or invalid; the message names the file and field."""


def load_profiles(path: Path) -> ProfilesFile:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfilesError(f"{path}: cannot read profiles file ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ProfilesError(f"{path}: not valid YAML ({exc})") from exc
    try:
        return ProfilesFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{_location(raw, err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ProfilesError(f"{path}: {problems}") from exc


def _location(raw: object, loc: tuple[int | str, ...]) -> str:
    """`profiles[1].timeouts.idle` -> `profile 'fake' timeouts.idle` where the name is known."""
    if len(loc) >= 2 and loc[0] == "profiles" and isinstance(loc[1], int) and isinstance(raw, dict):
        items = raw.get("profiles") or []
        item = items[loc[1]] if loc[1] < len(items) else None
        name = item.get("name") if isinstance(item, dict) else None
        field = ".".join(str(part) for part in loc[2:]) or "(profile)"
        return f"profile '{name or loc[1]}' {field}"
    return ".".join(str(part) for part in loc) or "(file)"
