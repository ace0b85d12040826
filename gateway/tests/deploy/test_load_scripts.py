"""bench/k6 and bench/vegeta cannot run here: check they still speak to this gateway.

Every request they send must name a route the app serves with that method, and every body
must pass the gateway's own chat-completions parser using only fields it declares.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from gpuchat.core.config import Settings
from gpuchat.main import create_app
from gpuchat.openai.protocol import (
    ChatCompletionRequest,
    ChatMessage,
    StreamOptions,
    parse_chat_request,
)
from tests.deploy.helpers import ROOT

K6 = ROOT / "bench" / "k6"
VEGETA = ROOT / "bench" / "vegeta"
K6_CALL = re.compile(r"http\.(get|post|put|patch|del)\(\s*`\$\{BASE_URL\}(/[^`?]*)`")
K6_BODY = re.compile(r"open\('\./([\w.-]+)'\)")
VEGETA_TARGET = re.compile(r"^(GET|POST|PUT|PATCH|DELETE) (\S+)$")


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str]]:
    """(method, path) of every route in the OpenAPI schema; no lifespan needed."""
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("data")))
    paths = app.openapi()["paths"]
    return {(method.upper(), path) for path, ops in paths.items() for method in ops}


def k6_requests() -> list[tuple[str, str]]:
    script = (K6 / "chat.js").read_text()
    calls = [(m.upper().replace("DEL", "DELETE"), p) for m, p in K6_CALL.findall(script)]
    assert calls, "no http.<method>(`${BASE_URL}/...`) call found in chat.js"
    return calls


def vegeta_targets() -> list[tuple[str, str, Path | None]]:
    """(method, path, body file) of each target in targets.http."""
    targets: list[tuple[str, str, Path | None]] = []
    for line in (VEGETA / "targets.http").read_text().splitlines():
        if match := VEGETA_TARGET.match(line):
            targets.append((match[1], urlsplit(match[2]).path, None))
        elif line.startswith("@"):
            method, path, _ = targets[-1]
            targets[-1] = (method, path, VEGETA / line[1:].strip())
    assert targets, "no target in targets.http"
    return targets


def assert_valid_chat_body(path: Path) -> None:
    raw = path.read_bytes()
    request = parse_chat_request(raw)  # the gateway's own parser: denied fields, limits
    body = json.loads(raw)
    assert set(body) <= set(ChatCompletionRequest.model_fields), path
    for message in body["messages"]:
        assert set(message) <= set(ChatMessage.model_fields), path
    assert set(body.get("stream_options") or {}) <= set(StreamOptions.model_fields), path
    assert request.stream and request.wants_usage_chunk, f"{path}: not a streamed request"


def test_k6_script_calls_only_routes_the_gateway_serves(routes: set[tuple[str, str]]) -> None:
    calls = k6_requests()

    assert ("POST", "/v1/chat/completions") in calls
    assert set(calls) <= routes, set(calls) - routes


def test_k6_script_sends_a_body_the_gateway_accepts() -> None:
    (name,) = K6_BODY.findall((K6 / "chat.js").read_text())

    assert_valid_chat_body(K6 / name)


def test_k6_script_steps_through_one_five_ten_sessions() -> None:
    script = (K6 / "chat.js").read_text()
    targets = [int(t) for t in re.findall(r"target:\s*(\d+)", script)]

    assert list(dict.fromkeys(targets)) == [1, 5, 10]
    assert "http_req_failed" in script and "Bearer ${API_KEY}" in script


def test_vegeta_targets_name_served_routes_with_valid_bodies(
    routes: set[tuple[str, str]],
) -> None:
    targets = vegeta_targets()

    for method, path, body in targets:
        assert (method, path) in routes, (method, path)
        if method == "POST":
            assert body is not None and body.is_file(), f"{method} {path} has no @body file"
            assert_valid_chat_body(body)
