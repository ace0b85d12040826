"""The shipped default profile's policy on the real embedded engine: llama.cpp with the
packaged Qwen2.5-Coder-0.5B. Before the profile had sampling defaults, a repetition penalty
and a system prompt, the second turn of this Korean conversation could repeat one line
until max_tokens (docs/looping.md). The profile comes from the repository's profiles.yaml,
so what is tested is what ships."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator
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


def shipped_profile() -> str:
    """The shipped `local` profile as it is, on one slot and one thread: the answers do not
    depend on the slots, and one thread is faster than two on a busy 2-core machine."""
    shipped = yaml.safe_load((REPO / "profiles.yaml").read_text(encoding="utf-8"))
    local = next(p for p in shipped["profiles"] if p["name"] == shipped["default"])
    local["llamacpp"] = {**local.get("llamacpp", {}), "parallel": 1, "threads": 1}
    local["max_concurrency"] = 1
    return yaml.safe_dump({"default": local["name"], "profiles": [local]}, allow_unicode=True)


def most_repeated_line(text: str) -> int:
    lines = [line.strip(" -*#0123456789.") for line in re.split(r"[\n.!?]+", text)]
    counts = Counter(line for line in lines if len(line) > 3)
    return max(counts.values(), default=0)


@pytest.fixture(scope="module")
async def shipped(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningGateway]:
    if not packaged.is_installed("qwen2.5-coder-0.5b-instruct", MODELS_DIR):
        pytest.fail("the packaged models are not installed: run `make setup`")
    async with packaged_gateway(tmp_path_factory.mktemp("shipped"), shipped_profile()) as running:
        yield running


@pytest.mark.parametrize("seed", SEEDS)
async def test_shipped_default_answers_the_korean_second_turn_without_looping(
    shipped: RunningGateway, seed: int
) -> None:
    client = openai.AsyncOpenAI(base_url=f"{shipped.url}/v1", api_key=shipped.api_key)
    models = {m.id: m for m in (await client.models.list()).data}
    max_tokens = models["default"].model_extra["defaults"]["max_tokens"]  # type: ignore[index]
    # Only the seed: temperature, top_p, penalties, max_tokens and the system prompt are
    # the profile's.
    completion = await client.chat.completions.create(
        model="default",
        messages=CONVERSATION,
        seed=seed,
        timeout=600,  # type: ignore[arg-type]
    )
    answer = completion.choices[0].message.content or ""
    assert completion.choices[0].finish_reason == "stop", answer
    assert completion.usage is not None
    assert completion.usage.completion_tokens < max_tokens * 3 // 4, answer
    assert HANGUL.search(answer), answer
    assert most_repeated_line(answer) <= 2, answer
