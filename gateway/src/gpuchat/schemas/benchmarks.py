"""API schemas of the stored benchmark results (`/api/admin/benchmarks`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class BenchmarkPublic(BaseModel):
    id: int
    profile: str
    parameters: dict[str, Any]
    results: dict[str, Any]
    created: str = Field(description="ISO date-time")


class BenchmarksPublic(BaseModel):
    data: list[BenchmarkPublic]
