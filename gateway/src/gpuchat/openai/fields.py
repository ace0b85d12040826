"""Which request fields reach which engine: an allow-list per engine kind, with caps.

The OpenAI fields are typed in `protocol.py`. Beyond them, an engine understands its own
sampling fields, and some of those set a length, a count or a size that the gateway's caps
must cover (`n_predict` overrides `max_tokens` in llama.cpp). So nothing passes because
the gateway does not know it: each engine kind gets the OpenAI fields plus the engine
fields listed here, typed and bounded; any other field is a 400 naming it. Fields that
name a URL, host, file, template, slot, adapter or internal request id are never listed.
`command` and `external` engines (an OpenAI-compatible server of any make, vLLM in
production) get both lists: every length field is capped whichever engine reads it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gpuchat.core.errors import GatewayError
from gpuchat.openai.protocol import ChatCompletionRequest

MAX_LIST = 256
Probability = Annotated[float, Field(ge=0, le=1)]
Penalty = Annotated[float, Field(ge=0, le=10)]
TokenIds = Annotated[list[Annotated[int, Field(ge=0)]], Field(max_length=MAX_LIST)]
Words = Annotated[list[Annotated[str, Field(max_length=200)]], Field(max_length=MAX_LIST)]
Schema = Annotated[dict[str, Any], Field(max_length=MAX_LIST)]
Bias = Annotated[float, Field(ge=-100, le=100)]


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OpenAIExtras(_Fields):
    """OpenAI chat-completion fields `ChatCompletionRequest` does not type itself."""

    tools: Annotated[list[dict[str, Any]], Field(max_length=128)] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    functions: Annotated[list[dict[str, Any]], Field(max_length=128)] | None = None
    function_call: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    logit_bias: Annotated[dict[str, Bias], Field(max_length=300)] | None = None
    reasoning_effort: Annotated[str, Field(max_length=16)] | None = None
    best_of: Annotated[int, Field(ge=1, le=1)] | None = None


class SharedSampling(_Fields):
    top_k: Annotated[int, Field(ge=-1, le=1000)] | None = None
    min_p: Probability | None = None
    ignore_eos: bool | None = None


class VllmFields(SharedSampling):
    repetition_penalty: Penalty | None = None
    length_penalty: Annotated[float, Field(ge=-10, le=10)] | None = None
    min_tokens: Annotated[int, Field(ge=0)] | None = None  # capped below
    stop_token_ids: TokenIds | None = None
    bad_words: Words | None = None
    allowed_token_ids: TokenIds | None = None
    include_stop_str_in_output: bool | None = None
    skip_special_tokens: bool | None = None
    spaces_between_special_tokens: bool | None = None
    prompt_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None
    echo: bool | None = None
    add_generation_prompt: bool | None = None
    continue_final_message: bool | None = None
    guided_json: str | Schema | None = None
    guided_regex: Annotated[str, Field(max_length=10_000)] | None = None
    guided_choice: Words | None = None
    guided_grammar: Annotated[str, Field(max_length=100_000)] | None = None
    structured_outputs: Schema | None = None


class LlamaCppFields(SharedSampling):
    n_predict: int | None = None  # turned into max_tokens below
    n_probs: Annotated[int, Field(ge=0, le=20)] | None = None
    min_keep: Annotated[int, Field(ge=0, le=100)] | None = None
    typical_p: Probability | None = None
    repeat_penalty: Penalty | None = None
    repeat_last_n: Annotated[int, Field(ge=-1, le=65_536)] | None = None
    dynatemp_range: Annotated[float, Field(ge=0, le=5)] | None = None
    dynatemp_exponent: Annotated[float, Field(ge=0, le=10)] | None = None
    mirostat: Annotated[int, Field(ge=0, le=2)] | None = None
    mirostat_tau: Annotated[float, Field(ge=0, le=100)] | None = None
    mirostat_eta: Annotated[float, Field(ge=0, le=1)] | None = None
    xtc_probability: Probability | None = None
    xtc_threshold: Probability | None = None
    dry_multiplier: Annotated[float, Field(ge=0, le=10)] | None = None
    dry_base: Annotated[float, Field(ge=1, le=10)] | None = None
    dry_allowed_length: Annotated[int, Field(ge=0, le=1000)] | None = None
    dry_penalty_last_n: Annotated[int, Field(ge=-1, le=65_536)] | None = None
    dry_sequence_breakers: Words | None = None
    samplers: Words | None = None
    grammar: Annotated[str, Field(max_length=100_000)] | None = None
    json_schema: Schema | None = None
    cache_prompt: bool | None = None
    timings_per_token: bool | None = None


class AnyEngineFields(VllmFields, LlamaCppFields):
    """`command` and `external`: whichever engine is behind, every length field capped."""


ENGINE_FIELDS: dict[str, type[_Fields]] = {
    "vllm": VllmFields,
    "llamacpp": LlamaCppFields,
    "command": AnyEngineFields,
    "external": AnyEngineFields,
}


def allowed_fields(kind: str) -> frozenset[str]:
    return frozenset(OpenAIExtras.model_fields) | frozenset(ENGINE_FIELDS[kind].model_fields)


def apply_engine_fields(chat: ChatCompletionRequest, kind: str, max_tokens_cap: int) -> None:
    """Check the client's fields beyond the typed ones for the engine kind: an unknown one
    is a 400 naming it, an out-of-range one a 422. Length fields are folded into the caps:
    `n_predict` becomes a `max_tokens` limit (which the profile caps like any other), and
    `min_tokens` may not exceed what the profile allows."""
    extras = chat.model_extra if chat.model_extra is not None else {}
    unknown = sorted(set(extras) - allowed_fields(kind))
    if unknown:
        raise GatewayError(
            400,
            f"Field '{unknown[0]}' is not supported for this model",
            code="field_not_allowed",
            param=unknown[0],
        )
    for model in (OpenAIExtras, ENGINE_FIELDS[kind]):
        _validate(model, {k: v for k, v in extras.items() if k in model.model_fields})
    if (extras.get("min_tokens") or 0) > max_tokens_cap:
        raise GatewayError(
            422,
            f"min_tokens: at most {max_tokens_cap} for this model",
            code="invalid_value",
            param="min_tokens",
        )
    predict = extras.pop("n_predict", None)
    if predict is not None and predict >= 0:  # -1: "until the end", i.e. unset
        limit = max(predict, 1)
        chat.max_tokens = min(chat.max_tokens, limit) if chat.max_tokens else limit


def _validate(model: type[_Fields], values: dict[str, Any]) -> None:
    try:
        model.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        param = ".".join(str(p) for p in err["loc"]) or None
        raise GatewayError(
            422, f"{param}: {err['msg']}", code="invalid_value", param=param
        ) from exc
