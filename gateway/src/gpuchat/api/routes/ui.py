"""The built web UI (`frontend/dist`): hashed assets, and index.html for every page path.

The UI routes itself in the browser, so any GET that is not an API path answers
index.html (SPA fallback). API and operations paths never fall back: an unknown
`/api/...` keeps its 404 (or 405) error envelope, and a missing asset is a 404 rather
than an HTML page a browser would try to run as a script.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.convertors import Convertor, register_url_convertor
from starlette.responses import FileResponse, Response

from gpuchat.core.config import Settings
from gpuchat.core.errors import GatewayError

# Top-level names the UI never answers for.
RESERVED = ("api", "v1", "assets", "healthz", "readyz", "metrics", "docs", "openapi.json")
_RESERVED_RE = "|".join(re.escape(name) for name in RESERVED)
# Vite puts a content hash in every asset name, so they may be cached forever.
IMMUTABLE = "public, max-age=31536000, immutable"


class PagePath(Convertor[str]):
    """A path outside the reserved prefixes: the route does not even match `/api/...`,
    so Starlette's own 404/405 answers stay as they are."""

    regex = rf"(?!(?:{_RESERVED_RE})(?:/|$)).*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("page", PagePath())

router = APIRouter(tags=["ui"], include_in_schema=False)


def _ui_dir(request: Request) -> Path:
    settings: Settings = request.app.state.settings
    return settings.ui_dir.resolve()


def _file_inside(root: Path, relative: str) -> Path | None:
    """The regular file at `relative` under `root`, never outside it (no `..`, no links out)."""
    if not relative or "\x00" in relative:
        return None
    root = root.resolve()
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


@router.get("/assets/{path:path}")
async def asset(path: str, request: Request) -> Response:
    found = _file_inside(_ui_dir(request) / "assets", path)
    if found is None:
        raise GatewayError(404, "Not found")
    return FileResponse(found, headers={"Cache-Control": IMMUTABLE})


@router.get("/{path:page}")
async def page(path: str, request: Request) -> Response:
    root = _ui_dir(request)
    # Files at the top of dist/ (favicon.svg, robots.txt) are served as they are.
    found = _file_inside(root, path) if "/" not in path else None
    if found is not None:
        return FileResponse(found, headers={"Cache-Control": "no-cache"})
    index = root / "index.html"
    if not index.is_file():
        raise GatewayError(
            404, "The web UI is not built (scripts/frontend.sh build)", code="ui_not_built"
        )
    return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})
