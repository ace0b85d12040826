"""One error envelope, one status→type table, one builder for every path.

`{"error": {"message", "type", "code", "param"}, "source": "gateway" | "upstream"}`; an error
that has a more precise sentence the web UI translates (an engine's refusal: "the model is
being stopped") adds `"notice": {"code", "params"}` (core/notices.py) to `error`.
Handlers, middleware and the streaming relay all build errors here, so a client sees the
same shape whether the failure happened before a stream started or in the middle of one.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from gpuchat.core.notices import Notice

Source = Literal["gateway", "upstream"]

ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "request_too_large",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def error_type(status: int) -> str:
    if status in ERROR_TYPES:
        return ERROR_TYPES[status]
    return "server_error" if status >= 500 else "invalid_request_error"


class GatewayError(Exception):
    """An error the gateway answers with on purpose. Raise it from anywhere below a route."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        retry_after: int | None = None,
        source: Source = "gateway",
        headers: dict[str, str] | None = None,
        notice: Notice | None = None,
    ) -> None:
        super().__init__(message)
        self.notice = notice
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.retry_after = retry_after
        self.source: Source = source
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body = error_body(
            self.message, self.status, code=self.code, param=self.param, source=self.source
        )
        if self.notice is not None:
            body["error"]["notice"] = {"code": self.notice.code, "params": self.notice.params}
        return body

    def response(self) -> Response:
        headers = dict(self.headers)
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        if self.status == 401:
            headers.setdefault("WWW-Authenticate", "Bearer")
        return json_response(self.body(), self.status, headers)


def error_body(
    message: str,
    status: int,
    *,
    code: str | None = None,
    param: str | None = None,
    source: Source = "gateway",
    type_: str | None = None,
) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": type_ or error_type(status),
            "code": code,
            "param": param,
        },
        "source": source,
    }


def json_response(
    body: object, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def _validation_param(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or None


async def _gateway_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return exc.response()


async def _validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    param = _validation_param(tuple(first.get("loc", ())))
    message = str(first.get("msg", "invalid request"))
    if param:
        message = f"{param}: {message}"
    return GatewayError(422, message, code="invalid_value", param=param).response()


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    messages = {404: "Not found", 405: "Method not allowed"}
    message = messages.get(exc.status_code) or str(exc.detail)
    return GatewayError(exc.status_code, message, headers=dict(exc.headers or {})).response()


DATABASE_RETRY_S = 5


# PostgreSQL's SQLSTATEs for a server that is going or coming: class 08 (the connection
# failed) and 57P01-57P03 (shut down by the administrator, crashed, "the database system is
# starting up / shutting down"). asyncpg raises the latter while a restart is under way;
# SQLAlchemy wraps them as a plain DBAPIError, not an OperationalError.
_AWAY_SQLSTATES = ("08", "57P01", "57P02", "57P03")


def database_away(exc: BaseException) -> bool:
    """A failure of the database connection, not of the request: refused, reset, lost,
    or a server that is restarting."""
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None) or ""
        return (
            exc.connection_invalidated
            or isinstance(exc, OperationalError | InterfaceError)
            or sqlstate.startswith(_AWAY_SQLSTATES)
        )
    # A refused connect is raised by the driver as it is, not wrapped by SQLAlchemy.
    return isinstance(exc, ConnectionError | DisconnectionError)


def unexpected(exc: BaseException) -> GatewayError:
    """What a client is told of an exception nobody handled: the database being away is
    worth a retry (503); anything else says nothing of the inside (500)."""
    if database_away(exc):
        return GatewayError(
            503,
            "The database is not answering; try again shortly",
            code="database_unavailable",
            retry_after=DATABASE_RETRY_S,
        )
    return GatewayError(500, "Internal server error", code="internal_error")


async def _unhandled(_: Request, exc: Exception) -> Response:
    # The traceback goes to the log (by the access middleware).
    return unexpected(exc).response()


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(GatewayError, _gateway_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unhandled)
