"""Every route, on one screen."""

from __future__ import annotations

from fastapi import APIRouter

from gpuchat.api.routes import health, openai

api_router = APIRouter()
api_router.include_router(health.router)  # GET /healthz, GET /readyz
api_router.include_router(openai.router)  # POST /v1/chat/completions, GET /v1/models
