"""Liveness and readiness. They reveal no configuration."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.responses import Response

from gpuchat.api.deps import StateDep
from gpuchat.core.errors import json_response

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> Response:
    return json_response({"status": "ok"})


@router.get("/readyz")
async def readyz(state: StateDep) -> Response:
    checks: dict[str, bool] = {}
    try:
        async with state.db.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = True
    except (SQLAlchemyError, OSError, TimeoutError):
        checks["database"] = False
    checks["engine"] = state.engines.is_ready("default")
    ready = all(checks.values())
    return json_response(
        {"status": "ready" if ready else "not_ready", "checks": checks}, 200 if ready else 503
    )
