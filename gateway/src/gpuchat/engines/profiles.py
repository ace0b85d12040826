"""Model profiles: what can run, validated at load from the profiles YAML file."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Final, Literal, Self

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
    # A switch lets in-flight streams finish for this long before it stops the engine.
    drain: float = Field(default=30.0, ge=0)


class LlamaCppArgs(_Strict):
    ctx: int = Field(default=4096, ge=256)
    parallel: int = Field(default=4, ge=1, le=64)
    threads: int | None = Field(default=None, ge=1)
    chat_template: str | None = None


# `vllm serve` flags a profile may add through `extra_args`. Everything that decides where
# the engine listens, what it may read or who may call it (--host, --port, --api-key,
# --chat-template, --ssl-*, --allowed-local-media-path, ...) is set by gpuchat or refused.
VLLM_EXTRA_FLAGS: Final = frozenset(
    {
        "--block-size",
        "--cpu-offload-gb",
        "--disable-custom-all-reduce",
        "--disable-log-requests",
        "--disable-log-stats",
        "--enable-chunked-prefill",
        "--enable-auto-tool-choice",
        "--enforce-eager",
        "--generation-config",
        "--kv-cache-dtype",
        "--max-num-batched-tokens",
        "--max-seq-len-to-capture",
        "--pipeline-parallel-size",
        "--reasoning-parser",
        "--revision",
        "--rope-scaling",
        "--seed",
        "--tokenizer-mode",
        "--tool-call-parser",
        "--trust-remote-code",
    }
)


class VllmArgs(_Strict):
    """Typed `vllm serve` arguments; None leaves vLLM's own default."""

    tensor_parallel_size: int = Field(default=1, ge=1, le=64)
    max_model_len: int | None = Field(default=None, ge=128)
    gpu_memory_utilization: float | None = Field(default=None, gt=0, le=1)
    dtype: Literal["auto", "half", "float16", "bfloat16", "float", "float32"] | None = None
    swap_space: float | None = Field(default=None, ge=0)  # GiB of CPU swap per GPU
    max_num_seqs: int | None = Field(default=None, ge=1)
    quantization: str | None = Field(default=None, pattern=r"^[a-z0-9_-]{1,32}$")
    chat_template: str | None = None  # a file on the engine host, or a template string
    enable_prefix_caching: bool | None = None
    # vLLM's CPU build: GiB of memory for the KV cache (VLLM_CPU_KVCACHE_SPACE, whole GiB).
    cpu_kvcache_space: int | None = Field(default=None, ge=1)
    extra_args: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _allowed_extra_args(self) -> Self:
        value_allowed = False  # a bare value may only follow a flag written without "="
        for arg in self.extra_args:
            if arg.startswith("-"):
                flag = arg.split("=", 1)[0]
                if flag not in VLLM_EXTRA_FLAGS:
                    raise ValueError(f"extra_args: '{flag}' is not an allowed vllm flag")
                value_allowed = "=" not in arg
            elif value_allowed:
                value_allowed = False
            else:
                raise ValueError(f"extra_args: '{arg}' does not follow a flag")
        return self


class Limits(_Strict):
    """Caps applied to every request for this profile (a client's larger value is lowered)."""

    max_tokens: int = Field(default=4096, ge=1)


# The repetition penalty under the name each engine reads (llama.cpp's server ignores
# `repetition_penalty`; vLLM's OpenAI server reads only `repetition_penalty`). `command`
# and `external` engines get vLLM's name: vLLM is what they front in production.
REPETITION_PENALTY_FIELD: Final = {
    EngineKind.llamacpp: "repeat_penalty",
    EngineKind.vllm: "repetition_penalty",
    EngineKind.command: "repetition_penalty",
    EngineKind.external: "repetition_penalty",
}
MAX_SYSTEM_PROMPT_CHARS = 8000


class Sampling(_Strict):
    """The profile's sampling defaults: sent for each field a request leaves unset (a value
    the client sets is kept; `limits.max_tokens` still caps). None: the engine's own default."""

    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    # 1 is off; above 1 discourages tokens already in the recent context (multiplicative).
    repetition_penalty: float | None = Field(default=None, gt=0, le=10)
    # llama.cpp only (`repeat_last_n`): how many recent tokens the penalties look at (its
    # default 64 misses a sentence repeated a list item later; -1: the whole context).
    # vLLM's repetition penalty always covers the whole prompt and answer.
    repetition_window: int | None = Field(default=None, ge=-1, le=65_536)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)

    def engine_fields(self, kind: EngineKind) -> dict[str, float | int]:
        """The set defaults under the field names the engine kind understands."""
        values = self.model_dump(exclude_none=True)
        penalty = values.pop("repetition_penalty", None)
        if penalty is not None:
            values[REPETITION_PENALTY_FIELD[kind]] = penalty
        window = values.pop("repetition_window", None)
        if window is not None and kind is EngineKind.llamacpp:
            values["repeat_last_n"] = window
        return values


class AutoBenchmark(_Strict):
    """A short benchmark run in the background each time an admin switches to the profile.
    Off by default: on a CPU engine it would slow the people using it."""

    after_switch: bool = False
    concurrency: list[int] = Field(default_factory=lambda: [1, 5], min_length=1, max_length=4)
    requests: int = Field(default=5, ge=1, le=50)  # per concurrency level
    max_tokens: int = Field(default=64, ge=1, le=1024)
    timeout: float = Field(default=120.0, gt=0)  # for the whole run


class Profile(_Strict):
    name: Name
    aliases: list[Alias] = Field(default_factory=list)
    engine: EngineKind
    # HF id, local path, or `packaged:<name>` for a model installed by `gpuchat models install`.
    model: str | None = None
    # The model name sent upstream; defaults to what the engine reports or the profile name.
    served_model_name: str | None = None
    llamacpp: LlamaCppArgs = Field(default_factory=LlamaCppArgs)
    vllm: VllmArgs = Field(default_factory=VllmArgs)
    command: list[str] | None = None
    health: str = "/health"
    urls: list[str] = Field(default_factory=list)
    gpus: list[int] = Field(default_factory=list)  # device ids; sets CUDA_VISIBLE_DEVICES
    # The gateway's environment variable holding a Hugging Face token, passed as HF_TOKEN.
    hf_token_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]{0,63}$")
    # The gateway's environment variable holding the engine's API key (vLLM `--api-key`),
    # sent as `Authorization: Bearer` on every request to it. Never the key itself.
    api_key_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]{0,63}$")
    max_concurrency: int = Field(default=4, ge=1)
    # Admit only what the engine says it can start now (vLLM's waiting requests and KV
    # cache, from its /metrics), below max_concurrency; the rest wait in gpuchat's queue.
    engine_aware_admission: bool = True
    limits: Limits = Field(default_factory=Limits)
    defaults: Sampling = Field(default_factory=Sampling)
    # The administrator's system prompt: first in every chat prompt for this profile, before
    # the user's own; users see that there is one and cannot remove it.
    system_prompt: str = Field(default="", max_length=MAX_SYSTEM_PROMPT_CHARS)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    benchmark: AutoBenchmark = Field(default_factory=AutoBenchmark)
    description: str = ""
    # Another profile or alias that writes conversation titles (a small, fast model).
    title_model: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _fold_default_max_tokens(cls, data: Any) -> Any:
        """The older `limits.default_max_tokens` is still read, as `defaults.max_tokens`."""
        if not isinstance(data, dict) or not isinstance(data.get("limits"), dict):
            return data
        limits = dict(data["limits"])
        if "default_max_tokens" not in limits:
            return data
        old = limits.pop("default_max_tokens")
        defaults = data.get("defaults")
        defaults = dict(defaults) if isinstance(defaults, dict) else {}
        if old is not None and defaults.get("max_tokens") not in (None, old):
            raise ValueError(
                "limits.default_max_tokens and defaults.max_tokens disagree; "
                "keep only defaults.max_tokens"
            )
        if old is not None:
            defaults["max_tokens"] = old
        return {**data, "limits": limits, "defaults": defaults}

    @model_validator(mode="after")
    def _engine_fields(self) -> Self:
        if self.engine is EngineKind.external and not self.urls:
            raise ValueError("an external profile needs at least one URL in `urls`")
        if self.engine is EngineKind.command and not self.command:
            raise ValueError("a command profile needs `command` (an argv list)")
        if self.engine in (EngineKind.llamacpp, EngineKind.vllm) and not self.model:
            raise ValueError(f"a {self.engine} profile needs `model`")
        if len(set(self.gpus)) != len(self.gpus) or any(gpu < 0 for gpu in self.gpus):
            raise ValueError("`gpus` must list distinct device ids >= 0")
        wanted, cap = self.defaults.max_tokens, self.limits.max_tokens
        if wanted is not None and wanted > cap:
            raise ValueError(f"defaults.max_tokens {wanted} is above limits.max_tokens {cap}")
        tp = self.vllm.tensor_parallel_size
        if self.engine is EngineKind.vllm and self.gpus and len(self.gpus) < tp:
            raise ValueError(f"tensor_parallel_size {tp} needs {tp} gpus; `gpus` lists fewer")
        return self

    @property
    def context(self) -> int | None:
        """The context length the profile configures (tokens), when it does."""
        if self.engine is EngineKind.llamacpp:
            return self.llamacpp.ctx
        if self.engine is EngineKind.vllm:
            return self.vllm.max_model_len
        return None

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
