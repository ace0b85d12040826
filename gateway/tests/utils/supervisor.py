"""A supervisor app (`gpuchat supervisor`) served on a loopback port of the test's event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from gpuchat.engines.manager import EngineManager
from gpuchat.engines.profiles import ProfilesFile
from gpuchat.engines.supervisor_app import create_supervisor_app


@asynccontextmanager
async def serve_supervisor(
    manager: EngineManager, file: ProfilesFile, *, secret: str, **options: Any
) -> AsyncIterator[str]:
    """Its base URL while the block runs; `options` go to `create_supervisor_app`. The
    manager is the caller's to close."""
    app = create_supervisor_app(manager, file, secret=secret, **options)
    runner = web.AppRunner(app, handler_cancellation=True, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()
