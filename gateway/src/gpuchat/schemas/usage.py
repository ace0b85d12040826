"""API schemas of the usage reports (`/api/admin/usage`, `/api/me/usage`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel

GroupBy = Literal["user", "group", "model", "day", "hour"]
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


Bucket = Literal["hour", "day"]


class ModelSeries(BaseModel):
    """One model's numbers per bucket, in the order of `UsageSeries.buckets`."""

    model: str
    requests: list[int]
    input_tokens: list[int]
    output_tokens: list[int]
    errors: list[int]
    ttft_p95_ms: list[float | None]  # None: no request of this model in that bucket had one


class UsageSeries(BaseModel):
    """Time series for the usage charts: buckets in UTC, one series per model (the busiest
    `MAX_SERIES` models; the rest are summed into one series named `(other)`)."""

    bucket: Bucket
    timezone: Literal["UTC"] = "UTC"
    buckets: list[str]  # each bucket's start, e.g. "2024-03-05T10:00Z"
    series: list[ModelSeries]


class PeriodUsage(BaseModel):
    """One quota period (a UTC day or month) of the caller's own usage."""

    period: Literal["day", "month"]
    start: datetime
    resets_at: datetime
    requests: int
    input_tokens: int
    output_tokens: int
    tokens: int  # input + output: what the quota counts
    quota: int  # 0: no quota
    remaining: int | None  # None when there is no quota


class QuotaLimits(BaseModel):
    """The caller's effective limits (the defaults, the most generous of the user's groups,
    the admin's per-user overrides); 0: none."""

    requests_per_minute: int
    tokens_per_minute: int
    concurrent_streams: int
    tokens_per_day: int
    tokens_per_month: int
    requests_per_day: int = 0
    requests_per_month: int = 0


class MyQuota(BaseModel):
    day: PeriodUsage
    month: PeriodUsage
    limits: QuotaLimits
