"""API schemas of the admin engine routes (`/api/admin/profiles`, `/api/admin/engines`).

They mirror the engine control's `EngineStatus` and `GpuReport` (engines/control.py,
engines/gpu.py), which stay the supervisor's own values: this layer sits below the
engines, and a field the admin API shows is a choice made here
(tests/schemas/test_engines.py keeps the two in step).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from gpuchat.core.notices import NoticeCode, NoticeParams

EngineStateName = Literal["stopped", "starting", "ready", "draining", "stopping", "failed"]
EngineKindName = Literal["vllm", "llamacpp", "command", "external"]


class ReplicaPublic(BaseModel):
    url: str
    healthy: bool
    outstanding: int


class EngineLoadPublic(BaseModel):
    """The engine's own view, from its `/metrics` (vLLM)."""

    running: int
    waiting: int
    kv_cache_usage: float | None = Field(description="0-1")
    at: float


class EnginePublic(BaseModel):
    """One profile's engine."""

    name: str
    engine: EngineKindName
    state: EngineStateName
    aliases: list[str]
    active: bool = Field(description="The profile `default` names")
    gpus: list[int]
    pid: int | None
    port: int | None
    base_url: str | None
    started_at: float | None = Field(description="Wall clock of the current process's spawn")
    uptime_s: float | None = Field(description="While ready")
    healthy: bool | None = Field(description="The last health check (null: not running)")
    progress: float | None = Field(description="0-100 while starting, from the engine's log")
    phase: str | None
    phase_code: NoticeCode | None = Field(description="`phase` as a code the UI translates")
    inflight: int = Field(description="Streams and requests in flight")
    waiting: int = Field(description="Requests waiting for it to start or for a switch")
    held: bool = Field(description="Stopped by an administrator: not started on demand")
    last_error: str | None = Field(description="The reason, then the engine log's last lines")
    last_error_code: NoticeCode | None = Field(description="The reason as a code")
    last_error_params: NoticeParams
    available: bool
    reason: str | None = Field(description="Why it is not available on this host")
    reason_code: NoticeCode | None = Field(description="`reason` as a code the UI translates")
    reason_params: NoticeParams
    replicas: list[ReplicaPublic]
    load: EngineLoadPublic | None
    switch_s: float | None = Field(description="How long the last switch to it took")
    restart_needed: bool = Field(
        default=False,
        description="Its profile was edited while it ran: the old settings run until restart",
    )


class EngineSwitched(EnginePublic):
    """The answer to an activate: the engine, and whether a benchmark will follow."""

    benchmark: bool


class SamplingDefaultsPublic(BaseModel):
    """Sent for each field a request leaves unset (null: the engine's own default)."""

    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    repetition_penalty: float | None
    repetition_window: int | None
    frequency_penalty: float | None
    presence_penalty: float | None


class ProfilePolicyPublic(BaseModel):
    """What the profiles file sets for every chat with this profile."""

    defaults: SamplingDefaultsPublic
    max_tokens_cap: int = Field(description="`limits.max_tokens`: no answer is longer")
    system_prompt: str = Field(description="The administrator's system prompt ('' for none)")


class ProfilesPublic(BaseModel):
    active: str = Field(description="The profile `default` names")
    data: list[EnginePublic]
    policies: dict[str, ProfilePolicyPublic] = Field(
        description="Each profile's sampling defaults and system prompt, by profile name"
    )


class EngineLog(BaseModel):
    name: str
    lines: list[str]


class GpuPublic(BaseModel):
    index: int
    name: str
    memory_used_mib: int
    memory_total_mib: int
    utilization_pct: int | None
    temperature_c: int | None
    engine: str | None = Field(description="The profile whose engine holds this GPU")


class GpuReportPublic(BaseModel):
    available: bool
    reason: str | None
    reason_code: NoticeCode | None = Field(description="`reason` as a code the UI translates")
    reason_params: NoticeParams
    driver: str | None
    gpus: list[GpuPublic]
