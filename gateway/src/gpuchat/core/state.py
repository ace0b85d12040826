"""The long-lived objects of one gateway process, built in the lifespan, reached via deps."""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gpuchat.core.config import Settings
from gpuchat.engines.control import EngineControl
from gpuchat.services.benchmarks import AutoBenchmarks
from gpuchat.services.chat import ActiveChats
from gpuchat.services.chat_store import ChatStore
from gpuchat.services.live import LiveStreams
from gpuchat.services.ratelimit import RateLimiter
from gpuchat.services.usage import UsageRecorder


@dataclass(slots=True)
class AppState:
    settings: Settings
    db: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    engines: EngineControl
    http: aiohttp.ClientSession
    usage: UsageRecorder
    limiter: RateLimiter
    answers: ChatStore  # the web chat's answers, stored also after the client has gone
    chats: ActiveChats = field(default_factory=ActiveChats)  # web chat turns, for stop
    live: LiveStreams = field(default_factory=LiveStreams)  # requests in flight (admin view)
    benchmarks: AutoBenchmarks | None = None  # benchmarks after a switch
