"""Pure ASGI middleware (never BaseHTTPMiddleware: it buffers and breaks disconnects).

One class does the per-request bookkeeping: request id, Host allow-list, body size limit
enforced while reading, security headers, one access-log line per request, and the error
envelope for anything that escapes.
"""

from __future__ import annotations

import secrets
import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gpuchat.core.errors import GatewayError, database_away, unexpected
from gpuchat.core.tracing import Tracing

log = structlog.get_logger("gpuchat.access")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# The interactive API docs (development only) load their script and styles from a CDN.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: "
    "https://fastapi.tiangolo.com; frame-ancestors 'none'"
)
_COMMON_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
SECURITY_HEADERS = [*_COMMON_HEADERS, (b"content-security-policy", CSP.encode())]
DOCS_HEADERS = [*_COMMON_HEADERS, (b"content-security-policy", DOCS_CSP.encode())]


class BodyTooLarge(GatewayError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body is larger than {limit} bytes", code="body_too_large")


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        allowed_hosts: list[str] | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.app = app
        self.tracing = tracing if tracing is not None and tracing.enabled else None
        self.max_body_bytes = max_body_bytes
        self.allowed_hosts = {h.lower().encode() for h in allowed_hosts or []}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The gateway names every request itself: a client's X-Request-Id is only a label
        # (kept in the log line and the usage row), never a key anything relies on.
        request_id = secrets.token_hex(12)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        client_id = _client_request_id(scope)
        if client_id is not None:
            state["client_request_id"] = client_id
            state.setdefault("log", {})["client_request_id"] = client_id
        started = time.perf_counter()
        status = 500
        response_started = False
        received = 0
        extra_headers = [
            *(DOCS_HEADERS if scope["path"] == "/docs" else SECURITY_HEADERS),
            (b"x-request-id", request_id.encode()),
        ]

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [*message.get("headers", []), *extra_headers]
            await send(message)

        # Once the response has started, every layer between here and the route only passes
        # body messages on: an event stream sends its frames here directly (`body_send`).
        # Taken out again at the end: `send` holds the server's request, which holds `scope`.
        state[_BODY_SEND] = send
        try:
            self._check_request(scope)
            if self.tracing is None:
                await self.app(scope, limited_receive, send_with_headers)
            else:
                await self._traced(scope, limited_receive, send_with_headers)
        except GatewayError as error:
            if not response_started:
                await error.response()(scope, receive, send_with_headers)
        except Exception as exc:
            if database_away(exc):  # expected while it restarts: no traceback per request
                log.warning("database_unavailable", request_id=request_id, error=type(exc).__name__)
            else:
                log.exception("unhandled_error", request_id=request_id, path=scope["path"])
            if not response_started:
                await unexpected(exc).response()(scope, receive, send_with_headers)
        finally:
            del state[_BODY_SEND]
            log.info(
                "request",
                request_id=request_id,
                method=scope["method"],
                path=scope["path"],
                status_code=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                **scope["state"].get("log", {}),
            )

    async def _traced(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.tracing is not None
        attributes = {"http.method": scope["method"], "http.target": scope["path"]}
        with self.tracing.span("request", **attributes):
            scope["state"].setdefault("log", {})["trace_id"] = self.tracing.trace_id()
            await self.app(scope, receive, send)

    def _check_request(self, scope: Scope) -> None:
        if self.allowed_hosts and _host(scope) not in self.allowed_hosts:
            raise GatewayError(400, "Invalid Host header", code="invalid_host")
        if _declared_length(scope) > self.max_body_bytes:
            raise BodyTooLarge(self.max_body_bytes)
        if "\x00" in scope["path"] or b"%00" in scope.get("query_string", b""):
            # No route takes one, and PostgreSQL cannot store one: refused at the door.
            raise GatewayError(400, "The URL must not contain NUL characters", code="invalid_value")
        if scope["method"] in _BODY_METHODS and not _json_or_empty(scope):
            # Every route takes JSON: a form or text/plain body is what a cross-site page
            # can send without asking (no CORS preflight), so it is never read.
            raise GatewayError(
                415,
                "The request body must be JSON (Content-Type: application/json)",
                code="unsupported_media_type",
            )


_BODY_SEND = "gpuchat.body_send"


def body_send(scope: Scope, send: Send) -> Send:
    """Where a started response's body messages can go: below this middleware, past the
    wrappers that only watch for the start (three coroutine calls less per streamed frame,
    docs/benchmarks.md). `send` itself when the request did not come through here."""
    sender: Send = scope.get("state", {}).get(_BODY_SEND, send)
    return sender


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    for name, value in scope["headers"]:
        if name == wanted:
            return bytes(value)
    return None


def _host(scope: Scope) -> bytes:
    host = (_header(scope, b"host") or b"").lower()
    if host.startswith(b"["):  # [::1]:8080
        return host.split(b"]")[0] + b"]"
    return host.rsplit(b":", 1)[0] if b":" in host else host


def _client_request_id(scope: Scope) -> str | None:
    """The client's X-Request-Id when it is a plausible id (a correlation label only)."""
    value = _header(scope, b"x-request-id")
    if value and 1 <= len(value) <= 64 and value.isascii():
        text = value.decode()
        if all(c.isalnum() or c in "-_.:" for c in text):
            return text
    return None


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _json_or_empty(scope: Scope) -> bool:
    content_type = _header(scope, b"content-type")
    if content_type is None:
        has_body = _declared_length(scope) > 0 or _header(scope, b"transfer-encoding")
        return not has_body
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


def _declared_length(scope: Scope) -> int:
    try:
        return int(_header(scope, b"content-length") or 0)
    except ValueError:
        return 0
