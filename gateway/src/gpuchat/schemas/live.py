"""API schemas of the admin live view (`/api/admin/live`, `/api/admin/streams/{id}/stop`)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from gpuchat.schemas.engines import EnginePublic, GpuReportPublic


class LiveStreamPublic(BaseModel):
    """One request in flight, in whichever gateway process relays it."""

    request_id: str
    user_id: int | None
    user: str | None
    client: str
    model: str
    profile: str
    started_at: float
    elapsed_s: float
    ttft_ms: int | None
    tokens: int
    tokens_per_s: float | None
    process: str = Field(description="The gateway process relaying it (host:pid)")


class LiveProcesses(BaseModel):
    answered: int = Field(description="Gateway processes that answered")
    complete: bool = Field(description="Whether every one answered in time")


class LiveSnapshot(BaseModel):
    time: float
    active: str
    engines: list[EnginePublic]
    queue: dict[str, int] = Field(description="Waiting requests by profile (only non-zero)")
    gpus: GpuReportPublic
    streams: list[LiveStreamPublic]
    processes: LiveProcesses


class StreamStopped(BaseModel):
    request_id: str
    stopped: bool
