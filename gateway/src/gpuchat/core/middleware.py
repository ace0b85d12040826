"""Pure ASGI middleware (never BaseHTTPMiddleware: it buffers and breaks disconnects).

One class does the per-request bookkeeping: request id, body size limit enforced while
reading, one access-log line per request, and the error envelope for anything that escapes.
"""

from __future__ import annotations

import secrets
import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gpuchat.core.errors import GatewayError

log = structlog.get_logger("gpuchat.access")


class BodyTooLarge(Exception):
    pass


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            if _declared_length(scope) > self.max_body_bytes:
                raise BodyTooLarge
            await self.app(scope, limited_receive, send_with_id)
        except BodyTooLarge:
            if not response_started:
                error = GatewayError(
                    413,
                    f"Request body is larger than {self.max_body_bytes} bytes",
                    code="body_too_large",
                )
                await error.response()(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled_error", request_id=request_id, path=scope["path"])
            if not response_started:
                await GatewayError(500, "Internal server error", code="internal_error").response()(
                    scope, receive, send_with_id
                )
        finally:
            log.info(
                "request",
                request_id=request_id,
                method=scope["method"],
                path=scope["path"],
                status_code=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                **scope["state"].get("log", {}),
            )


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"x-request-id" and 8 <= len(value) <= 64 and value.isascii():
            text: str = value.decode()
            if all(c.isalnum() or c in "-_" for c in text):
                return text
    return secrets.token_hex(12)


def _declared_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0
