"""The allow-list of request fields per engine kind, and the caps on length fields."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gpuchat.core.errors import GatewayError
from gpuchat.openai.fields import apply_engine_fields
from gpuchat.openai.protocol import ChatCompletionRequest, parse_chat_request, upstream_body

KINDS = ["vllm", "llamacpp", "command", "external"]
CAP = 512


def request(**fields: Any) -> ChatCompletionRequest:
    raw = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **fields}
    return parse_chat_request(orjson.dumps(raw))


def sent(chat: ChatCompletionRequest, kind: str) -> dict[str, Any]:
    apply_engine_fields(chat, kind, CAP)
    body: dict[str, Any] = orjson.loads(upstream_body(chat, model="e", max_tokens_cap=CAP))
    return body


def refused(chat: ChatCompletionRequest, kind: str) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        apply_engine_fields(chat, kind, CAP)
    return caught.value


@pytest.mark.parametrize("kind", ["llamacpp", "command", "external"])
def test_n_predict_cannot_lift_max_tokens(kind: str) -> None:
    """llama.cpp reads `n_predict` before `max_tokens`: 5 asked, 700 would be generated."""
    assert sent(request(max_tokens=5, n_predict=700), kind)["max_tokens"] == 5
    assert "n_predict" not in sent(request(max_tokens=5, n_predict=700), kind)
    assert sent(request(n_predict=300), kind)["max_tokens"] == 300
    assert sent(request(n_predict=100_000), kind)["max_tokens"] == CAP  # the profile's cap
    assert sent(request(n_predict=-1), kind)["max_tokens"] == CAP


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        ("vllm", "min_tokens", CAP + 1),
        ("command", "min_tokens", 10_000),
        ("llamacpp", "n_probs", 1000),
        ("external", "n_probs", 21),
        ("vllm", "prompt_logprobs", 1000),
        ("vllm", "stop_token_ids", list(range(10_000))),
        ("llamacpp", "mirostat", 7),
    ],
)
def test_count_and_size_fields_are_capped(kind: str, field: str, value: object) -> None:
    error = refused(request(**{field: value}), kind)
    assert (error.status, error.param) == (422, field)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "field",
    [
        "api_base",
        "base_url",
        "chat_template",
        "chat_template_kwargs",
        "file",
        "lora",
        "id_slot",
        "slot_save_path",
        "request_id",  # vLLM's own id for the request: collisions across clients
        "logits_processors",  # code, by name
        "mm_processor_kwargs",
        "made_up_field",
    ],
)
def test_fields_not_on_the_list_are_400_naming_the_field(kind: str, field: str) -> None:
    error = refused(request(**{field: "x"}), kind)
    assert (error.status, error.code, error.param) == (400, "field_not_allowed", field)


def test_each_engine_kind_gets_its_own_fields() -> None:
    assert sent(request(top_k=5, min_p=0.1, repetition_penalty=1.1), "vllm")["top_k"] == 5
    assert sent(request(top_k=5, repeat_penalty=1.1, n_probs=3), "llamacpp")["n_probs"] == 3
    assert refused(request(n_predict=5), "vllm").param == "n_predict"
    assert refused(request(min_tokens=5), "llamacpp").param == "min_tokens"
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    for kind in KINDS:
        assert sent(request(tools=tools, tool_choice="auto"), kind)["tools"] == tools
