"""The long-lived objects of one gateway process, built in the lifespan, reached via deps."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gpuchat.core.config import Settings
from gpuchat.engines.manager import EngineManager
from gpuchat.services.usage import UsageRecorder


@dataclass(slots=True)
class AppState:
    settings: Settings
    db: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    engines: EngineManager
    http: aiohttp.ClientSession
    usage: UsageRecorder
