"""The built web UI: assets, the SPA fallback, and API paths that never fall back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from gpuchat.core.config import Settings
from gpuchat.main import create_app

INDEX = "<!doctype html><title>gpuchat</title><script type=module src=/assets/app-1.js></script>"


@pytest.fixture
async def ui_client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text(INDEX)
    (dist / "assets" / "app-1.js").write_text("console.log(1)")
    (dist / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("outside")
    settings = Settings(data_dir=tmp_path / "data", ui_dir=dist)
    # No lifespan: these routes read only the settings.
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.mark.parametrize("path", ["/", "/login", "/c/12", "/admin/models", "/settings?x=1"])
async def test_ui_page_paths_answer_index_html(ui_client: httpx.AsyncClient, path: str) -> None:
    response = await ui_client.get(path)
    assert response.status_code == 200
    assert response.text == INDEX
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    assert "script-src 'self'" in response.headers["content-security-policy"]


async def test_ui_assets_are_served_and_cached(ui_client: httpx.AsyncClient) -> None:
    response = await ui_client.get("/assets/app-1.js")
    assert response.status_code == 200
    assert response.text == "console.log(1)"
    assert "immutable" in response.headers["cache-control"]
    assert (await ui_client.get("/favicon.svg")).text == "<svg/>"


@pytest.mark.parametrize(
    "path",
    [
        "/assets/missing.js",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/api/nothing",
        "/api",
        "/v1/nothing",
        "/healthzz/../api/x",
        "/metrics/x",
        "/openapi.json/x",
    ],
)
async def test_ui_never_answers_for_api_paths_or_missing_assets(
    ui_client: httpx.AsyncClient, path: str
) -> None:
    response = await ui_client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"


async def test_ui_keeps_method_not_allowed_on_api_routes(ui_client: httpx.AsyncClient) -> None:
    response = await ui_client.get("/api/auth/login")
    assert response.status_code == 405
    assert response.json()["error"]["message"] == "Method not allowed"


async def test_ui_not_built_is_a_clear_404(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", ui_dir=tmp_path / "missing")
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/chat")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "ui_not_built"
