from __future__ import annotations

import orjson

from gpuchat.openai.protocol import parse_chat_request, upstream_body


def test_upstream_body_caps_tokens_forces_usage_and_keeps_unknown_fields() -> None:
    request = parse_chat_request(
        b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": true,'
        b' "max_tokens": 100000, "min_p": 0.1}'
    )
    body = orjson.loads(upstream_body(request, model="engine", max_tokens_cap=64))
    assert body["model"] == "engine"
    assert body["max_tokens"] == 64
    assert body["stream_options"] == {"include_usage": True}
    assert body["min_p"] == 0.1
    assert request.wants_usage_chunk is False


def test_upstream_body_applies_default_max_tokens() -> None:
    request = parse_chat_request(b'{"model": "m", "messages": [{"role": "user", "content": "hi"}]}')
    body = orjson.loads(
        upstream_body(request, model="e", max_tokens_cap=64, defaults={"max_tokens": 16})
    )
    assert body["max_tokens"] == 16
    assert "stream_options" not in body
