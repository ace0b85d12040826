"""create_app(): lifespan, routers, handlers, middleware. Wiring only."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gpuchat.api.router import GatewayApp, include_routes
from gpuchat.core.config import ProfilesSource, Settings
from gpuchat.core.db import create_engine, create_sessionmaker, read_session
from gpuchat.core.errors import install_error_handlers
from gpuchat.core.logging import configure_logging
from gpuchat.core.middleware import RequestContextMiddleware
from gpuchat.core.tracing import Tracing
from gpuchat.db import migrate
from gpuchat.db.repositories import runtime
from gpuchat.engines.control import EngineControl, EngineState, UnknownModel
from gpuchat.engines.load import EngineLoad
from gpuchat.engines.manager import EngineManager
from gpuchat.engines.profiles import load_profiles
from gpuchat.engines.remote import RemoteEngineControl
from gpuchat.services.accounts.bootstrap import ensure_first_admin
from gpuchat.services.accounts.oidc import OidcProvider
from gpuchat.services.accounts.principals import PrincipalCache
from gpuchat.services.benchmarks import AutoBenchmarks
from gpuchat.services.chat.store import ChatStore
from gpuchat.services.chat.stream import ActiveChats
from gpuchat.services.cluster import Cluster
from gpuchat.services.filters import ForbiddenWords
from gpuchat.services.limits.admission import Admission
from gpuchat.services.limits.login_throttle import LoginThrottle, create_storage
from gpuchat.services.limits.quotas import UsageLimits
from gpuchat.services.limits.slots import SharedSlots
from gpuchat.services.limits.store import LimitStore
from gpuchat.services.metrics import Metrics, forget_process, multiprocess_dir
from gpuchat.services.profiles.catalog import ProfileCatalog
from gpuchat.services.profiles.seed import load_profile_set
from gpuchat.services.relay.live import LiveStreams
from gpuchat.services.relay.request import Upstreams
from gpuchat.services.usage.recorder import UsageRecorder
from gpuchat.state import AppState

# The collector's thresholds: a young collection after 5,000 net allocations of container
# objects, not CPython's 700. A request leaves no reference cycle behind
# (tests/core/test_request_garbage.py), so collections find next to nothing; at 700 one ran
# every other request and walked the open streams' live objects again and again (15 % of the
# event loop at 200 streams). 5,000 measured fewer loop stalls over 5 ms than 700 or 20,000,
# whose rarer young collections took up to 25 ms at 200 streams (docs/benchmarks.md).
GC_THRESHOLDS = (5_000, 20, 10)


def _upstream_client(settings: Settings) -> aiohttp.ClientSession:
    # One client for the process: a pool at least as large as the streams we serve,
    # no redirects (set per request), no cookies, no proxy from the environment. Idle
    # connections close after 2-4 s (aiohttp sweeps every `keepalive_timeout`), before the
    # engines' own 5 s keep-alive (llama.cpp, vLLM's uvicorn) closes them under a request.
    connector = aiohttp.TCPConnector(
        limit=settings.upstream_pool_size, limit_per_host=0, keepalive_timeout=2
    )
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
        timeout=aiohttp.ClientTimeout(total=None),
    )


def _engine_aware_loads(engines: EngineControl) -> dict[str, EngineLoad | None]:
    """The engines' own loads, for the profiles that admit by them."""
    loads: dict[str, EngineLoad | None] = {}
    for status in engines.statuses():
        try:
            aware = engines.profile_for(status.name).engine_aware_admission
        except UnknownModel:
            continue
        loads[status.name] = status.load if aware else None
    return loads


def _is_loading(engines: EngineControl, name: str) -> bool:
    return any(s.name == name and s.state is EngineState.starting for s in engines.statuses())


def _build_state(
    app: FastAPI,
    db: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    engines: EngineControl,
) -> AppState:
    settings: Settings = app.state.settings
    metrics = Metrics()
    limits = UsageLimits(
        settings,
        LimitStore(settings.redis_url, on_fallback=metrics.redis_fallback.set),
        sessions,
        on_reject=lambda name: metrics.rate_limited.labels(name).inc(),
    )
    usage = UsageRecorder(
        db.begin,
        listeners=(metrics.observe, limits.charge),
        on_dropped=metrics.usage_rows_dropped.inc,
    )
    http = _upstream_client(settings)
    limiter = LoginThrottle(create_storage(settings.redis_url))
    answers = ChatStore(sessions)
    admission = Admission(
        slots=SharedSlots(settings.redis_url) if settings.redis_url else None,
        max_length=settings.queue_max_length,
        max_wait_s=settings.queue_max_wait_seconds,
        user_share=settings.queue_user_share,
        is_loading=lambda name: _is_loading(engines, name),
        on_reject=lambda engine, reason: metrics.queue_rejected.labels(engine, reason).inc(),
        loads=lambda: _engine_aware_loads(engines),
    )
    filters = ForbiddenWords(sessions, on_match=metrics.content_filtered.inc)
    chats, live = ActiveChats(), LiveStreams()
    state = AppState(
        settings,
        db,
        sessions,
        engines,
        http,
        usage,
        limiter,
        answers,
        metrics,
        limits,
        admission,
        filters,
        app.state.tracing,
        PrincipalCache(settings.auth_cache_seconds),
        chats,
        live,
        Cluster(
            settings.redis_url,
            {
                "streams": lambda _: live.snapshot(),
                "stop_stream": lambda q: live.stop(str(q["request_id"])),
                "stop_chat": lambda q: chats.stop(str(q["request_id"]), int(q["user_id"])),
            },
        ),
        Upstreams(
            admission,
            engines,
            http,
            usage,
            live=live,
            tracing=app.state.tracing if app.state.tracing.enabled else None,
            sample_rate=lambda: settings.log_sample_rate,
        ),
    )
    state.benchmarks = AutoBenchmarks(engines, http, sessions)
    if settings.oidc_enabled:
        assert settings.oidc_discovery_url and settings.oidc_client_id  # oidc_enabled says so
        secret = settings.oidc_client_secret
        state.oidc = OidcProvider(
            settings.oidc_discovery_url,
            settings.oidc_client_id,
            secret.get_secret_value() if secret else None,
            settings.oidc_scopes,
        )
    state.profiles = ProfileCatalog(
        sessions,
        engines,
        editable=settings.profiles_source is ProfilesSource.database,
        seed=settings.profiles,
        models_dir=settings.models_dir,
        vllm_command=settings.vllm_command_argv,
    )
    return state


async def _engine_control(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> EngineControl:
    """The engines' owner, with the profile set from the database (seeded from the file
    once) or, with GPUCHAT_PROFILES_SOURCE=file, from the file alone."""
    from_database = settings.profiles_source is ProfilesSource.database
    stored = await load_profile_set(sessions, settings.profiles) if from_database else None
    if settings.supervisor_url:  # `gpuchat supervisor` owns the engines (DESIGN §6)
        remote = RemoteEngineControl(settings.supervisor_url, settings.supervisor_control_secret)
        if stored is not None:  # sent before its start
            await remote.replace_profiles(stored.profiles, revision=stored.revision)
        return remote
    return EngineManager(
        stored.profiles if stored is not None else load_profiles(settings.profiles),
        models_dir=settings.models_dir,
        logs_dir=settings.logs_dir,
        vllm_command=settings.vllm_command_argv,
    )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    settings.session_secret  # noqa: B018 - read (or generated) now, not in a request
    db = create_engine(settings.resolved_database_url)
    sessions = create_sessionmaker(db)
    await migrate.upgrade(db)
    await ensure_first_admin(sessions, settings)
    engines = await _engine_control(settings, sessions)
    state = _build_state(app, db, sessions, engines)
    app.state.gpuchat = state
    await state.usage.start()
    await state.limits.start()
    await state.admission.start()
    await state.cluster.start()
    sampler = None
    if multiprocess_dir() is not None:  # several workers: keep this one's gauges written
        sampler = asyncio.create_task(state.metrics.sample_forever(state.upstreams), name="metrics")
    async with read_session(sessions) as session:
        active = await runtime.get(session, runtime.ACTIVE_PROFILE)
    await engines.start(launch_default=settings.start_engines, active=active)
    # Everything built so far lives as long as the process: out of the collector's sight,
    # a full collection no longer walks it (tens of ms of stalled streams, every few s).
    # Start-up's garbage goes first, or it would be kept for good. `python -m gpuchat`
    # started with the collector off (__main__.py): it runs from here on.
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    gc.enable()
    try:
        yield
    finally:
        if state.benchmarks is not None:
            await state.benchmarks.close()
        await state.answers.close()
        await state.usage.close()
        await state.limits.close()
        await state.admission.close()
        await state.cluster.close()
        if sampler is not None:
            sampler.cancel()
            forget_process(os.getpid())
        await state.http.close()
        if state.oidc is not None:
            await state.oidc.close()
        await engines.close()
        await db.dispose()
        await state.tracing.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_level, json=settings.json_logs, log_file=settings.log_file)
    app = GatewayApp(
        title="gpuchat",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None if settings.is_production else "/docs",
        redoc_url=None,
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.tracing = tracing = Tracing(settings.otlp_endpoint)
    install_error_handlers(app)
    include_routes(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-Request-Id"],
        )
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        allowed_hosts=settings.allowed_hosts if settings.is_production else None,
        tracing=tracing,
    )
    return app
