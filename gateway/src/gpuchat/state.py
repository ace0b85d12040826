"""The long-lived objects of one gateway process, built in the lifespan, reached via deps."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gpuchat.core.config import Settings
from gpuchat.core.tracing import Tracing
from gpuchat.engines.control import EngineControl
from gpuchat.services.accounts.oidc import OidcProvider
from gpuchat.services.accounts.principals import PrincipalCache
from gpuchat.services.benchmarks import AutoBenchmarks
from gpuchat.services.chat.store import ChatStore
from gpuchat.services.chat.stream import ActiveChats
from gpuchat.services.cluster import Cluster
from gpuchat.services.filters import ForbiddenWords
from gpuchat.services.limits.admission import Admission
from gpuchat.services.limits.login_throttle import LoginThrottle
from gpuchat.services.limits.quotas import UsageLimits
from gpuchat.services.metrics import Metrics
from gpuchat.services.profiles.catalog import ProfileCatalog
from gpuchat.services.relay.live import LiveStreams
from gpuchat.services.relay.request import Upstreams
from gpuchat.services.usage.recorder import UsageRecorder


@dataclass(slots=True)
class AppState:
    settings: Settings
    db: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    engines: EngineControl
    http: aiohttp.ClientSession
    usage: UsageRecorder
    limiter: LoginThrottle
    answers: ChatStore  # the web chat's answers, stored also after the client has gone
    metrics: Metrics
    limits: UsageLimits  # per-user and per-key rate limits and quotas
    admission: Admission  # per-engine concurrency and the fair queue
    filters: ForbiddenWords  # the admin's forbidden-word list
    tracing: Tracing  # OpenTelemetry spans (a no-op without GPUCHAT_OTLP_ENDPOINT)
    principals: PrincipalCache  # API key -> caller, for a few seconds
    chats: ActiveChats  # this process's web chat turns, for stop
    live: LiveStreams  # this process's requests in flight (admin view)
    cluster: Cluster  # every gateway process: the live view and stop reach them all
    upstreams: Upstreams  # what every upstream request uses (admission, engines, http...)
    benchmarks: AutoBenchmarks | None = None  # benchmarks after a switch
    oidc: OidcProvider | None = None  # the single sign-on provider, when configured
    profiles: ProfileCatalog | None = None  # the profile editor (admin UI)
