"""A real OpenID Connect provider (oidc-provider from npm, frontend/tests/oidc/provider.mjs)
as a subprocess, and a browser-like walk through its development login form."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from tests.utils.processes import stop

FRONTEND = Path(__file__).resolve().parents[3] / "frontend"
PROVIDER_SCRIPT = FRONTEND / "tests" / "oidc" / "provider.mjs"
CLIENT_ID = "gpuchat"
CLIENT_SECRET = "test-client-secret"  # the test provider's own, in provider.mjs


@dataclass
class RunningProvider:
    issuer: str

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"


@asynccontextmanager
async def start_provider(
    port: int, redirect_uri: str, accounts: dict[str, dict[str, Any]]
) -> AsyncIterator[RunningProvider]:
    node = shutil.which("node")
    if node is None or not (FRONTEND / "node_modules" / "oidc-provider").exists():
        pytest.skip("node and frontend/node_modules/oidc-provider are needed")
    env = {
        **os.environ,
        "OIDC_PORT": str(port),
        "OIDC_REDIRECT_URIS": redirect_uri,
        "OIDC_ACCOUNTS": json.dumps(accounts),
    }
    child = subprocess.Popen(  # noqa: ASYNC220 - a quick fork, as in tests/utils/processes
        [node, str(PROVIDER_SCRIPT)],
        cwd=FRONTEND,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    provider = RunningProvider(f"http://127.0.0.1:{port}")
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            for _ in range(300):
                if child.poll() is not None:
                    raise RuntimeError("oidc-provider exited at start")
                try:
                    if (await client.get(provider.discovery_url)).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("oidc-provider did not start")
        yield provider
    finally:
        stop(child, grace=5)


async def follow_until(browser: httpx.AsyncClient, url: str, prefix: str) -> str:
    """Follow redirects like a browser until one points at `prefix`; that URL."""
    for _ in range(10):
        if url.startswith(prefix):
            return url
        response = await browser.get(url)
        assert response.status_code in (302, 303), (response.status_code, response.text[:300])
        url = urljoin(url, response.headers["location"])
    raise AssertionError("too many redirects")


async def provider_login(
    browser: httpx.AsyncClient, authorize_url: str, login: str, gateway_url: str
) -> str:
    """At the provider: open the login form, sign in as `login`; the callback URL it
    sends the browser back to (not yet visited)."""
    page_url: str | None = None
    url = authorize_url
    for _ in range(10):
        response = await browser.get(url)
        if response.status_code == 200:
            page_url = url
            break
        url = urljoin(url, response.headers["location"])
        if url.startswith(gateway_url):
            return url  # signed in already (the provider's session)
    assert page_url is not None
    action = re.search(r'<form[^>]*action="([^"]+)"', response.text)
    assert action is not None, response.text[:500]
    submitted = await browser.post(
        urljoin(page_url, action.group(1)),
        data={"prompt": "login", "login": login, "password": "any-password"},
    )
    assert submitted.status_code in (302, 303), submitted.text[:300]
    return await follow_until(
        browser, urljoin(page_url, submitted.headers["location"]), gateway_url
    )


async def abort_at_provider(
    browser: httpx.AsyncClient, authorize_url: str, gateway_url: str
) -> str:
    """At the provider: cancel instead of signing in; the callback URL (error=access_denied)."""
    url = authorize_url
    for _ in range(10):
        response = await browser.get(url)
        if response.status_code == 200:
            break
        url = urljoin(url, response.headers["location"])
    abort = re.search(r'href="([^"]*/abort)"', response.text)
    assert abort is not None, response.text[:500]
    return await follow_until(browser, urljoin(url, abort.group(1)), gateway_url)
