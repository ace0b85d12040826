"""OpenAI wire models (chat completions, the models list), ordered like the OpenAI reference.

Requests are `extra="allow"`: fields beyond these are kept for the engine only when
`fields.py` allows them for its engine kind (an allow-list with caps; anything else is a
400 naming it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from gpuchat.core.errors import GatewayError
from gpuchat.openai.policy import fill_unset, with_system_prompt

MAX_MESSAGES = 1000
MAX_CONTENT_CHARS = 1_000_000

Role = Literal["system", "developer", "user", "assistant", "tool", "function"]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Role
    content: str | list[dict[str, Any]] | None = None
    name: str | None = Field(default=None, max_length=256)

    @field_validator("content")
    @classmethod
    def _no_nul(cls, value: str | list[dict[str, Any]] | None) -> object:
        if isinstance(value, str):
            if len(value) > MAX_CONTENT_CHARS:
                raise ValueError(f"at most {MAX_CONTENT_CHARS} characters")
            if "\x00" in value:
                raise ValueError("must not contain NUL characters")
        return value


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool | None = None


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    model: str = Field(min_length=1, max_length=128)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    n: int | None = Field(default=None, ge=1, le=1)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    seed: int | None = None
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    user: str | None = Field(default=None, max_length=256)

    @property
    def wants_usage_chunk(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


class ModelDefaults(BaseModel):
    """The sampling values the gateway sends for fields a request leaves unset (null: the
    engine's own default). A value the client sets is kept."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    repetition_penalty: float | None = None
    repetition_window: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None


class ModelCard(BaseModel):
    """One model (`GET /v1/models`), by alias. `root`, `ready` and the policy fields go
    beyond OpenAI's fields, as vLLM's `root` does; clients ignore what they do not know."""

    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    root: str = Field(description="The profile that serves this alias")
    ready: bool = Field(description="Its engine is ready now")
    defaults: ModelDefaults
    has_system_prompt: bool = Field(
        description="An administrator's system prompt comes first in every chat"
    )
    system_prompt: str | None = Field(description="That system prompt's text")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


def parse_chat_request(body: bytes) -> ChatCompletionRequest:
    """Bytes -> validated request, or a 400/422 GatewayError naming the field."""
    try:
        raw = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise GatewayError(
            400, f"Request body is not valid JSON: {exc.msg}", code="invalid_json"
        ) from exc
    if not isinstance(raw, dict):
        raise GatewayError(400, "Request body must be a JSON object", code="invalid_json")
    if "best_of" in raw and raw["best_of"] not in (None, 1):
        raise GatewayError(
            400, "best_of > 1 is not supported", code="invalid_value", param="best_of"
        )
    try:
        return ChatCompletionRequest.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        param = ".".join(str(p) for p in err["loc"]) or None
        raise GatewayError(
            422,
            f"{param}: {err['msg']}" if param else err["msg"],
            code="invalid_value",
            param=param,
        ) from exc


def upstream_body(
    request: ChatCompletionRequest,
    *,
    model: str,
    max_tokens_cap: int,
    defaults: Mapping[str, Any] | None = None,
    system_prompt: str = "",
) -> bytes:
    """The body sent to the engine: the client's fields, the profile's defaults for those it
    left unset and its system prompt first (`policy.py`), the engine's model name, caps
    applied, and usage always requested on streams (the relay strips it again if the client
    did not ask).
    """
    body = request.model_dump(exclude_unset=True, exclude_none=False)
    body["model"] = model
    body["messages"] = with_system_prompt(body["messages"], system_prompt)
    fill_unset(body, defaults or {})
    for field in ("max_tokens", "max_completion_tokens"):
        if body.get(field) is not None and body[field] > max_tokens_cap:
            body[field] = max_tokens_cap
    if body.get("max_tokens") is None and body.get("max_completion_tokens") is None:
        body["max_tokens"] = max_tokens_cap
    if request.stream:
        options = dict(body.get("stream_options") or {})
        options["include_usage"] = True
        body["stream_options"] = options
    return orjson.dumps(body)


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its `$defs` inlined, for an OpenAPI `requestBody`
    declared by hand (the route reads the body itself, for speed and exact errors)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved
