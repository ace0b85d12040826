"""Liveness and readiness. They reveal no configuration."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from gpuchat.api.deps import StateDep
from gpuchat.schemas.health import Health, Readiness, ReadinessChecks

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", responses={503: {"model": Readiness, "description": "Not ready"}})
async def readyz(state: StateDep, response: Response) -> Readiness:
    try:
        async with state.db.connect() as connection:
            await connection.execute(text("SELECT 1"))
        database = True
    except (SQLAlchemyError, OSError, TimeoutError):
        database = False
    checks = ReadinessChecks(database=database, engine=state.engines.is_ready("default"))
    ready = checks.database and checks.engine
    response.status_code = 200 if ready else 503
    return Readiness(status="ready" if ready else "not_ready", checks=checks)
