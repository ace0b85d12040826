"""One profile as a document an administrator edits (YAML or JSON text), validated by the
same `Profile` schema as profiles.yaml, and the engine command line it would run.

Text from the admin UI is hostile until validated: a size cap, no YAML anchors or aliases
(a few lines of them expand into gigabytes), plain data types only (safe_load), and the
problems come back with the field path they are about.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import ValidationError

from gpuchat.engines.launchers import (
    LOOPBACK,
    default_vllm_command,
    llamacpp_argv,
    unavailable_reason,
    vllm_argv,
)
from gpuchat.engines.packaged import PackagedModelError, resolve_model_path
from gpuchat.engines.profiles import EngineKind, Profile, ProfilesFile

MAX_DOCUMENT_BYTES: Final = 64 * 1024
PORT_PLACEHOLDER: Final = "<port>"


class ProfileInvalid(ValueError):
    """The document is not a valid profile; `path` names the first field at fault."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


class _StrictLoader(yaml.SafeLoader):
    """safe_load that refuses a key written twice (YAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise ProfileInvalid("a mapping key must be a plain value")
            if key in seen:
                raise ProfileInvalid(f"'{key}' is written twice", str(key))
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_document(text: str) -> object:
    """YAML (a superset of JSON) to plain data; refuses what is too big or uses aliases."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_DOCUMENT_BYTES:
        raise ProfileInvalid(f"the document is larger than {MAX_DOCUMENT_BYTES // 1024} KiB")
    if "\x00" in text:
        raise ProfileInvalid("the document contains a NUL character")
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise ProfileInvalid("YAML anchors and aliases are not allowed")
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        raise ProfileInvalid(f"not valid YAML: {exc}") from exc
    except RecursionError as exc:
        raise ProfileInvalid("the document is nested too deeply") from exc


def validate_profile(raw: object) -> Profile:
    """The profile `raw` describes, or ProfileInvalid naming every problem (first: `path`)."""
    if not isinstance(raw, dict):
        raise ProfileInvalid("a profile is a mapping of fields (name, engine, model, ...)")
    try:
        return Profile.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        problems = [(_path(err["loc"]), err["msg"]) for err in errors]
        message = "; ".join(f"{path or '(profile)'}: {msg}" for path, msg in problems)
        raise ProfileInvalid(message, problems[0][0] or None) from exc


def parse_profile(text: str) -> Profile:
    return validate_profile(parse_document(text))


def validate_set(profiles: list[Profile], default: str | None) -> ProfilesFile:
    """The set as profiles.yaml would hold it: aliases unique across profiles."""
    try:
        return ProfilesFile(default=default, profiles=profiles)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ProfileInvalid(str(first["msg"]).removeprefix("Value error, "), "aliases") from exc


def document_of(profile: Profile) -> dict[str, Any]:
    """What is stored and shown: the fields the administrator set, as JSON data."""
    document: dict[str, Any] = profile.model_dump(mode="json", exclude_unset=True)
    return document


def to_yaml(data: object) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)


def _path(loc: tuple[int | str, ...]) -> str:
    """`('vllm', 'extra_args', 2)` -> `vllm.extra_args[2]`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass(frozen=True, slots=True)
class EnvEntry:
    name: str
    value: str | None  # None: taken from the gateway's environment variable `source`
    source: str | None = None


@dataclass(frozen=True, slots=True)
class LaunchPreview:
    argv: tuple[str, ...] | None  # None: gpuchat runs nothing (an external engine)
    env: tuple[EnvEntry, ...]
    urls: tuple[str, ...]
    unavailable: str | None  # why this host could not start it now


def preview_launch(
    profile: Profile, *, models_dir: Path, vllm_command: tuple[str, ...] | None = None
) -> LaunchPreview:
    """The argv `plan_launch` would spawn, with `<port>` for the port it picks then, and
    the environment it adds: variable names only where the value is a secret."""
    command = vllm_command or default_vllm_command()
    unavailable = unavailable_reason(profile, models_dir=models_dir, vllm_command=command)
    reason = unavailable.message if unavailable is not None else None
    env = _env(profile)
    if profile.engine is EngineKind.external:
        return LaunchPreview(None, env, tuple(profile.urls), reason)
    if profile.engine is EngineKind.vllm:
        argv = _port(vllm_argv(profile, 0, command=command))
    elif profile.engine is EngineKind.llamacpp:
        assert profile.model is not None
        try:
            model = resolve_model_path(profile.model, models_dir)
        except PackagedModelError:
            model = Path(profile.model)
        alias = profile.served_model_name or profile.name
        argv = _port(llamacpp_argv(profile, model, 0, alias))
    else:
        assert profile.command
        argv = tuple(arg.replace("{port}", PORT_PLACEHOLDER) for arg in profile.command)
    return LaunchPreview(argv, env, (f"http://{LOOPBACK}:{PORT_PLACEHOLDER}/v1",), reason)


def _port(argv: tuple[str, ...]) -> tuple[str, ...]:
    """The value after `--port` (a free port chosen at start) as the placeholder."""
    out = list(argv)
    for index, arg in enumerate(out[:-1]):
        if arg == "--port":
            out[index + 1] = PORT_PLACEHOLDER
    return tuple(out)


def _env(profile: Profile) -> tuple[EnvEntry, ...]:
    env: list[EnvEntry] = []
    if profile.engine is EngineKind.vllm and profile.vllm.cpu_kvcache_space is not None:
        env.append(EnvEntry("VLLM_CPU_KVCACHE_SPACE", str(profile.vllm.cpu_kvcache_space)))
    if profile.gpus:
        env.append(EnvEntry("CUDA_VISIBLE_DEVICES", ",".join(str(g) for g in profile.gpus)))
    if profile.hf_token_env:
        env.append(EnvEntry("HF_TOKEN", None, profile.hf_token_env))
    if profile.api_key_env:
        # Sent by the gateway as `Authorization: Bearer`; the value is never shown.
        env.append(EnvEntry("Authorization", None, profile.api_key_env))
    return tuple(env)
