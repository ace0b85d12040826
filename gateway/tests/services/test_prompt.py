"""Prompt building: byte-stable history, trimming oldest turns to fit the context."""

from __future__ import annotations

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from gpuchat.db.models import Message
from gpuchat.engines.control import Upstream
from gpuchat.engines.profiles import Profile
from gpuchat.services.chat.prompt import (
    Prompt,
    answer_budget,
    answer_room,
    build_prompt,
    estimate_tokens,
    fit_exactly,
)


def thread(*pairs: tuple[str, str]) -> list[Message]:
    return [
        Message(id=i, role=role, content=content, status="complete")
        for i, (role, content) in enumerate(pairs)
    ]


def test_prompt_keeps_everything_when_it_fits() -> None:
    messages = thread(("user", "a"), ("assistant", "b"), ("user", "c"))
    prompt = build_prompt("sys", messages, context=4096, reserve=256)
    assert prompt.trimmed == 0
    assert prompt.messages == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "a"},
        {"role": "assistant", "content": "b"},
        {"role": "user", "content": "c"},
    ]


def test_prompt_drops_oldest_turns_never_system_or_newest() -> None:
    long = "x" * 3000  # ~1000 tokens each
    messages = thread(
        ("user", long), ("assistant", long), ("user", long), ("assistant", long), ("user", "newest")
    )
    prompt = build_prompt("system stays", messages, context=2600, reserve=256)
    assert prompt.messages[0] == {"role": "system", "content": "system stays"}
    assert prompt.messages[-1] == {"role": "user", "content": "newest"}
    assert prompt.messages[1]["role"] == "user"  # never opens with a dangling answer
    assert prompt.trimmed == 2
    used = sum(estimate_tokens(m["content"]) for m in prompt.messages)
    assert used <= 2600 - 256


def test_prompt_is_byte_stable_from_turn_to_turn() -> None:
    first = thread(("user", "q1"), ("assistant", "a1"), ("user", "q2"))
    second = [*first, *thread(("assistant", "a2"), ("user", "q3"))]
    one = build_prompt("s", first, context=None, reserve=0).messages
    two = build_prompt("s", second, context=None, reserve=0).messages
    assert two[: len(one)] == one


def test_answer_budget_is_until_the_model_stops_within_the_context() -> None:
    counted = Prompt([{"role": "user", "content": "hi"}], 0, tokens=1500)

    assert answer_budget(2048, counted, cap=4096, wanted=None) == 548
    assert answer_budget(2048, counted, cap=300, wanted=None) == 300
    assert answer_budget(2048, counted, cap=4096, wanted=100) == 100
    assert answer_budget(None, counted, cap=4096, wanted=None) == 4096


def test_answer_room_without_a_wish_is_a_quarter_of_the_context() -> None:
    assert answer_room(4096, cap=8192, wanted=None) == 1024
    assert answer_room(512, cap=8192, wanted=None) == 256
    assert answer_room(4096, cap=200, wanted=None) == 200
    assert answer_room(4096, cap=8192, wanted=64) == 64


async def test_fit_exactly_leaves_out_turns_the_engine_counts_as_too_long() -> None:
    """An engine that counts one token per character: the estimate (a third of the bytes)
    let the prompt through, the engine's count does not."""

    async def tokenize(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"count": sum(len(m["content"]) for m in body["messages"])})

    app = web.Application()
    app.router.add_post("/tokenize", tokenize)
    async with TestServer(app) as server, aiohttp.ClientSession() as http:
        profile = Profile(name="v", engine="vllm", model="m", vllm={"max_model_len": 800})
        upstream = Upstream(profile, str(server.make_url("/v1")), "m")
        prompt = build_prompt(
            "sys",
            thread(("user", "a" * 900), ("assistant", "b" * 900), ("user", "newest")),
            context=800,
            reserve=100,
        )
        assert prompt.trimmed == 0  # the estimate: about 640 tokens fit in 800 - 100

        fitted = await fit_exactly(http, upstream, prompt, room=100)

    assert fitted.trimmed == 2
    assert [m["content"] for m in fitted.messages] == ["sys", "newest"]
    assert fitted.tokens == len("sys") + len("newest")


async def test_fit_exactly_keeps_the_estimate_when_the_engine_cannot_count() -> None:
    async with aiohttp.ClientSession() as http:
        profile = Profile(name="l", engine="llamacpp", model="m.gguf")
        upstream = Upstream(profile, "http://127.0.0.1:9/v1", "m")
        prompt = build_prompt("sys", thread(("user", "hi")), context=4096, reserve=256)

        assert await fit_exactly(http, upstream, prompt, room=256) == prompt
