"""Where a browser request comes from: cookie-authenticated writes must come from us.

The session cookie is SameSite=Strict, but "site" is wider than "origin": a page on a
sibling host (another app under the same domain) is same-site and sends the cookie. So a
request that authenticates with the cookie and changes something must also say, through
the headers browsers set and pages cannot, that it comes from this origin (or one in
GPUCHAT_CORS_ORIGINS). Scripts that send no such headers use a bearer token, not a cookie;
a cookie-holding client without them is not a browser page.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import HTTPConnection

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SAME = frozenset({"same-origin", "none"})  # `none`: typed by the user, a bookmark


def cross_origin_reason(request: HTTPConnection, allowed_origins: list[str]) -> str | None:
    """Why this request is from another origin (None: it is ours, or no browser said)."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site.lower() not in _SAME:
        return f"Sec-Fetch-Site: {fetch_site}"
    origin = request.headers.get("origin")
    if origin is None:
        return None
    if origin in allowed_origins:
        return None
    parts = urlsplit(origin)
    host = request.headers.get("host", "")
    if origin != "null" and parts.netloc and parts.netloc.lower() == host.lower():
        return None
    return "Origin: " + origin[:100]
