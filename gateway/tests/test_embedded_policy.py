"""The shipped profiles' policies on the real embedded engine: llama.cpp with the packaged
Qwen2.5-Coder-0.5B (`local`, the default) and SmolLM2-135M (`smollm2`). Before the default
profile had sampling defaults, a repetition penalty and a system prompt, the second turn of
this Korean conversation could repeat one line until max_tokens (docs/looping.md). SmolLM2
speaks English only: it gets the same conversation in English. The profiles come from the
repository's profiles.yaml, so what is tested is what ships."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import yaml

import openai
from gpuchat.engines import packaged
from tests.utils.gateway import RunningGateway, packaged_gateway

REPO = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO / "data" / "models"
SEEDS = (1, 2, 3)
HANGUL = re.compile(r"[\uac00-\ud7a3]")

pytestmark = pytest.mark.engine

# The first answer is fixed, so each seed costs one generation on a 2-core machine.
CONVERSATION = [
    {"role": "user", "content": "서울 여행 계획을 세우고 있어요. 도와줄 수 있어요?"},
    {
        "role": "assistant",
        "content": "네, 물론이죠! 서울 여행 계획을 도와드릴게요. 여행 기간과 관심 있는 "
        "분야(역사, 음식, 쇼핑 등)를 알려주시면 더 자세히 추천해 드릴 수 있어요.",
    },
    {"role": "user", "content": "서울에서 가볼 만한 곳들을 추천해 주세요."},
]
CONVERSATION_EN = [
    {"role": "user", "content": "I am planning a trip to Seoul. Can you help me?"},
    {
        "role": "assistant",
        "content": "Of course! Tell me how long you will stay and what you like (history, "
        "food, shopping) and I can suggest more.",
    },
    {"role": "user", "content": "Please recommend places worth visiting in Seoul."},
]


def shipped_profile(name: str) -> str:
    """A shipped profile as it is, on one slot and one thread: the answers do not depend on
    the slots, and one thread is faster than two on a busy 2-core machine."""
    shipped = yaml.safe_load((REPO / "profiles.yaml").read_text(encoding="utf-8"))
    profile = next(p for p in shipped["profiles"] if p["name"] == name)
    profile["llamacpp"] = {**profile.get("llamacpp", {}), "parallel": 1, "threads": 1}
    profile["max_concurrency"] = 1
    return yaml.safe_dump({"default": name, "profiles": [profile]}, allow_unicode=True)


def most_repeated_line(text: str) -> int:
    lines = [line.strip(" -*#0123456789.") for line in re.split(r"[\n.!?]+", text)]
    counts = Counter(line for line in lines if len(line) > 3)
    return max(counts.values(), default=0)


@asynccontextmanager
async def shipped_gateway(
    factory: pytest.TempPathFactory, profile: str, model: str
) -> AsyncIterator[RunningGateway]:
    if not packaged.is_installed(model, MODELS_DIR):
        pytest.fail("the packaged models are not installed: run `make setup`")
    async with packaged_gateway(factory.mktemp(profile), shipped_profile(profile)) as running:
        yield running


@pytest.fixture(scope="module")
async def shipped(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningGateway]:
    async with shipped_gateway(tmp_path_factory, "local", "qwen2.5-coder-0.5b-instruct") as gw:
        yield gw


@pytest.fixture(scope="module")
async def smollm2(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningGateway]:
    async with shipped_gateway(tmp_path_factory, "smollm2", "smollm2-135m-instruct") as gw:
        yield gw


async def answer_with_profile_policy(
    gateway: RunningGateway, messages: list[dict[str, str]], seed: int
) -> str:
    """The answer to `messages` with only the seed set (temperature, top_p, penalties,
    max_tokens and the system prompt are the profile's); asserts it ended by itself in
    well under the profile's max_tokens without repeating a line."""
    client = openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=gateway.api_key)
    models = {m.id: m for m in (await client.models.list()).data}
    max_tokens = models["default"].model_extra["defaults"]["max_tokens"]  # type: ignore[index]
    completion = await client.chat.completions.create(
        model="default",
        messages=messages,  # type: ignore[arg-type]
        seed=seed,
        timeout=600,  # type: ignore[arg-type]
    )
    answer = completion.choices[0].message.content or ""
    assert completion.choices[0].finish_reason == "stop", answer
    assert completion.usage is not None
    assert completion.usage.completion_tokens < max_tokens * 3 // 4, answer
    assert most_repeated_line(answer) <= 2, answer
    return answer


@pytest.mark.parametrize("seed", SEEDS)
async def test_shipped_default_answers_the_korean_second_turn_without_looping(
    shipped: RunningGateway, seed: int
) -> None:
    answer = await answer_with_profile_policy(shipped, CONVERSATION, seed)
    assert HANGUL.search(answer), answer


@pytest.mark.parametrize("seed", SEEDS)
async def test_shipped_smollm2_answers_the_english_second_turn_without_looping(
    smollm2: RunningGateway, seed: int
) -> None:
    answer = await answer_with_profile_policy(smollm2, CONVERSATION_EN, seed)
    assert "Seoul" in answer or "seoul" in answer.lower(), answer
