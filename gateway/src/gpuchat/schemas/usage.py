"""API schemas of the usage reports (`/api/admin/usage`, `/api/me/usage`)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel

GroupBy = Literal["user", "model", "day", "hour"]
Moment = Annotated[
    str | None, Query(max_length=40, description="ISO date or date-time (UTC by default)")
]
StatusFilter = Annotated[
    str | None, Query(pattern=r"^(ok|error|[1-5][0-9][0-9])$", description="ok, error or a code")
]


class Percentiles(BaseModel):
    p50: float | None
    p95: float | None


class UsageStats(BaseModel):
    requests: int
    input_tokens: int
    output_tokens: int
    errors: int  # status >= 400, except 499 (the client hung up)
    ttft_ms: Percentiles
    latency_ms: Percentiles


class UsageGroup(UsageStats):
    key: str


class UsageReport(BaseModel):
    totals: UsageStats
    groups: list[UsageGroup]
