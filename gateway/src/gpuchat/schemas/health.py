"""API schemas of liveness and readiness (`/healthz`, `/readyz`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: Literal["ok"]


class ReadinessChecks(BaseModel):
    database: bool
    engine: bool = Field(description="The default profile's engine is ready")


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: ReadinessChecks
