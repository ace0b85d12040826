"""The real embedded engine: llama.cpp with the packaged model, through the supervisor, the
gateway and the official `openai` SDK, exactly as a user's program would call it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

import openai
from gpuchat.db.models import UsageRow
from gpuchat.engines import packaged
from tests.utils.chat import chat
from tests.utils.gateway import ADMIN_EMAIL, ADMIN_PASSWORD, RunningGateway, packaged_gateway

REPO = Path(__file__).resolve().parents[2]
MODELS_DIR = REPO / "data" / "models"

pytestmark = pytest.mark.engine

PROFILES = """
default: tiny
profiles:
  - name: tiny
    aliases: [default, smollm2]
    engine: llamacpp
    model: packaged:smollm2-135m-instruct
    llamacpp: {ctx: 1024, parallel: 2}
    max_concurrency: 2
    limits: {max_tokens: 32}
"""


@pytest.fixture(scope="module")
async def embedded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningGateway]:
    if not packaged.is_installed("smollm2-135m-instruct", MODELS_DIR):
        pytest.fail("the packaged models are not installed: run `make setup`")
    async with packaged_gateway(tmp_path_factory.mktemp("embedded"), PROFILES) as running:
        yield running


async def test_embedded_engine_streams_a_real_answer_through_the_openai_sdk(
    embedded: RunningGateway,
) -> None:
    client = openai.AsyncOpenAI(base_url=f"{embedded.url}/v1", api_key=embedded.api_key)
    stream = await client.chat.completions.create(
        model="default",
        messages=[{"role": "user", "content": "Name three colours."}],
        stream=True,
        stream_options={"include_usage": True},
        temperature=0,
    )
    pieces: list[str] = []
    usage = None
    request_id = None
    async for chunk in stream:
        request_id = request_id or stream.response.headers.get("x-request-id")
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
        if chunk.usage:
            usage = chunk.usage
    answer = "".join(pieces)
    assert len(pieces) > 3 and answer.strip()
    assert usage is not None and usage.completion_tokens > 0 and usage.prompt_tokens > 0
    await embedded.state.usage.flush()
    async with embedded.state.sessions() as session:
        row = await session.scalar(select(UsageRow).where(UsageRow.request_id == request_id))
    assert row is not None
    assert (row.status_code, row.profile, row.engine) == (200, "tiny", "llamacpp")
    assert row.output_tokens == usage.completion_tokens


async def test_embedded_engine_non_stream_and_models(embedded: RunningGateway) -> None:
    client = openai.AsyncOpenAI(base_url=f"{embedded.url}/v1", api_key=embedded.api_key)
    models = await client.models.list()
    assert "default" in {m.id for m in models.data}
    completion = await client.chat.completions.create(
        model="smollm2", messages=[{"role": "user", "content": "Say hello."}], max_tokens=8
    )
    assert completion.choices[0].message.content
    assert completion.usage is not None and 0 < completion.usage.completion_tokens <= 8


async def test_embedded_engine_web_chat_turn_is_stored_and_titled(embedded: RunningGateway) -> None:
    async with embedded.login(ADMIN_EMAIL, ADMIN_PASSWORD) as browser:
        first = await chat(browser, {"content": "What is 2 + 2? Answer briefly.", "temperature": 0})
        cid = first.one("start")["conversation_id"]
        second = await chat(
            browser, {"conversation_id": cid, "content": "And 3 + 3?", "temperature": 0}
        )
        detail = (await browser.get(f"/api/conversations/{cid}")).json()
    assert first.one("done")["status"] == second.one("done")["status"] == "complete"
    assert first.text.strip() and second.text.strip()
    assert [m["content"] for m in detail["messages"]] == [
        "What is 2 + 2? Answer briefly.",
        first.text,
        "And 3 + 3?",
        second.text,
    ]
    assert detail["title"] == first.one("title")["title"] and detail["title"]
    assert second.one("usage")["input_tokens"] > first.one("usage")["input_tokens"]
