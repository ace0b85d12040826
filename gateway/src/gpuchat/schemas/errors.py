"""The error envelope as an OpenAPI schema, documented on every route."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

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


# By reference, not as `{"model": ErrorEnvelope}`: given a model, FastAPI builds a validator
# for every route and status, about 1,000, whenever it builds the routes (0.15 s CPU, in
# the first request's answer), for a document only /openapi.json reads. `error_schemas()`
# gives what the reference names (api/router.py adds them to the document).
_ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorEnvelope"}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"content": {"application/json": {"schema": _ERROR_SCHEMA}}}
    for status in (400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 502, 503, 504)
}


def error_schemas() -> dict[str, dict[str, Any]]:
    """The JSON schemas of `ErrorEnvelope` and the models in it, by name."""
    _, document = models_json_schema(
        [(ErrorEnvelope, "serialization")], ref_template="#/components/schemas/{model}"
    )
    schemas: dict[str, dict[str, Any]] = document["$defs"]
    return schemas
