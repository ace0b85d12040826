"""The error envelope as an OpenAPI schema, documented on every route."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from gpuchat.core.notices import NoticeCode, NoticeParams


class ErrorNotice(BaseModel):
    code: NoticeCode
    params: NoticeParams


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: str | None
    param: str | None
    notice: ErrorNotice | None = Field(
        None, description="`message` as a code the web UI translates (engine refusals)"
    )


class ErrorEnvelope(BaseModel):
    error: ErrorDetail
    source: Literal["gateway", "upstream"]


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope}
    for status in (400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 502, 503, 504)
}
