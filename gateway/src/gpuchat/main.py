"""create_app(): lifespan, routers, handlers, middleware. Wiring only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from gpuchat.api.router import api_router
from gpuchat.core.config import Settings
from gpuchat.core.db import create_engine, create_sessionmaker
from gpuchat.core.errors import install_error_handlers
from gpuchat.core.logging import configure_logging
from gpuchat.core.middleware import RequestContextMiddleware
from gpuchat.core.state import AppState
from gpuchat.db import migrate
from gpuchat.engines.manager import EngineManager
from gpuchat.engines.profiles import load_profiles
from gpuchat.services.benchmarks import AutoBenchmarks
from gpuchat.services.bootstrap import ensure_first_admin
from gpuchat.services.chat_store import ChatStore
from gpuchat.services.ratelimit import RateLimiter, create_storage
from gpuchat.services.usage import UsageRecorder


def _upstream_client(settings: Settings) -> aiohttp.ClientSession:
    # One client for the process: a pool at least as large as the streams we serve,
    # no redirects (set per request), no cookies, no proxy from the environment.
    connector = aiohttp.TCPConnector(limit=settings.upstream_pool_size, limit_per_host=0)
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        timeout=aiohttp.ClientTimeout(total=None),
    )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    db = create_engine(settings.resolved_database_url)
    sessions = create_sessionmaker(db)
    await migrate.upgrade(db)
    await ensure_first_admin(sessions, settings)
    engines = EngineManager(
        load_profiles(settings.profiles), models_dir=settings.models_dir, logs_dir=settings.logs_dir
    )
    usage = UsageRecorder(sessions)
    http = _upstream_client(settings)
    limiter = RateLimiter(create_storage(settings.redis_url))
    answers = ChatStore(sessions)
    state = AppState(settings, db, sessions, engines, http, usage, limiter, answers)
    state.benchmarks = AutoBenchmarks(engines, http, sessions)
    app.state.gpuchat = state
    await usage.start()
    await engines.start(launch_default=settings.start_engines)
    try:
        yield
    finally:
        await state.benchmarks.close()
        await answers.close()
        await usage.close()
        await http.close()
        await engines.close()
        await db.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_level, json=settings.json_logs, log_file=settings.log_file)
    app = FastAPI(
        title="gpuchat",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None if settings.is_production else "/docs",
        redoc_url=None,
        redirect_slashes=False,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(api_router)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-Id"],
        )
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        allowed_hosts=settings.allowed_hosts if settings.is_production else None,
    )
    return app
