"""A profile's policy (profiles.yaml `defaults`, `system_prompt`) as the engine receives it,
through `/v1/chat/completions` and the web chat, against the fake upstream, which records
every body it gets."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import FAKE_UPSTREAM
from tests.utils.chat import chat
from tests.utils.gateway import ADMIN_EMAIL, ADMIN_PASSWORD, RunningGateway, start_gateway
from tests.utils.streams import chat_body

ADMIN_PROMPT = "You are the house assistant. 한국어로 짧게 답하세요."
ARGV = [sys.executable, str(FAKE_UPSTREAM), "--port", "{port}"]
PROFILES = f"""
default: ruled
profiles:
  - name: ruled
    aliases: [default, ruled-model]
    engine: command
    command: {ARGV!r}
    served_model_name: fake
    limits: {{max_tokens: 512}}
    defaults:
      temperature: 0.3
      top_p: 0.8
      max_tokens: 200
      repetition_penalty: 1.15
      presence_penalty: 0.5
    system_prompt: "{ADMIN_PROMPT}"
  - name: plain
    engine: command
    command: {ARGV!r}
    served_model_name: fake
    limits: {{default_max_tokens: 64, max_tokens: 256}}
"""


@pytest.fixture(scope="module")
async def ruled(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[RunningGateway]:
    data_dir = tmp_path_factory.mktemp("policy")
    profiles = data_dir / "profiles.yaml"
    profiles.write_text(PROFILES)
    url = f"sqlite+aiosqlite:///{data_dir / 'gpuchat.db'}"
    async with start_gateway(data_dir=data_dir, database_url=url, profiles=profiles) as running:
        yield running


async def _sent(gateway: RunningGateway, request_id: str, profile: str = "ruled") -> Any:
    """The body the engine received for that request."""
    async with httpx.AsyncClient(base_url=await gateway.upstream_url(profile)) as fake:
        return (await fake.get(f"/_requests/{request_id}")).json()["body"]


async def _v1(gateway: RunningGateway, body: dict[str, Any]) -> Any:
    async with gateway.client() as client:
        response = await client.post("/v1/chat/completions", json={"stream": False, **body})
    assert response.status_code == 200, response.text
    return await _sent(gateway, response.headers["x-request-id"], body["model"])


async def test_v1_unset_fields_get_the_profile_defaults_under_the_engines_names(
    ruled: RunningGateway,
) -> None:
    sent = await _v1(ruled, chat_body("hi", model="ruled"))
    assert (sent["temperature"], sent["top_p"], sent["max_tokens"]) == (0.3, 0.8, 200)
    assert sent["presence_penalty"] == 0.5 and "frequency_penalty" not in sent
    # A `command` engine gets vLLM's name for the repetition penalty.
    assert sent["repetition_penalty"] == 1.15 and "repeat_penalty" not in sent


async def test_v1_client_values_are_kept_and_the_cap_still_applies(ruled: RunningGateway) -> None:
    sent = await _v1(
        ruled,
        chat_body(
            "hi",
            model="ruled",
            temperature=0,
            top_p=1,
            presence_penalty=0,
            repetition_penalty=1.0,
            max_tokens=100_000,
        ),
    )
    assert (sent["temperature"], sent["top_p"], sent["presence_penalty"]) == (0, 1, 0)
    assert sent["repetition_penalty"] == 1.0
    assert sent["max_tokens"] == 512  # the client's value, lowered to limits.max_tokens
    explicit_null = await _v1(ruled, chat_body("hi", model="ruled", temperature=None))
    assert explicit_null["temperature"] == 0.3  # null is "unset"
    by_other_name = await _v1(
        ruled, chat_body("hi", model="ruled", max_completion_tokens=50, repeat_penalty=1.3)
    )
    assert "max_tokens" not in by_other_name and by_other_name["max_completion_tokens"] == 50
    assert "repetition_penalty" not in by_other_name and by_other_name["repeat_penalty"] == 1.3


async def test_v1_admin_system_prompt_comes_first(ruled: RunningGateway) -> None:
    alone = await _v1(ruled, chat_body("hi", model="ruled"))
    assert alone["messages"] == [
        {"role": "system", "content": ADMIN_PROMPT},
        {"role": "user", "content": "hi"},
    ]
    own = await _v1(
        ruled,
        {
            "model": "ruled-model",
            "messages": [
                {"role": "system", "content": "Answer like a pirate."},
                {"role": "user", "content": "hi"},
            ],
        },
    )
    # One system message (chat templates often accept only one), the admin's text first.
    assert own["messages"] == [
        {"role": "system", "content": f"{ADMIN_PROMPT}\n\nAnswer like a pirate."},
        {"role": "user", "content": "hi"},
    ]


async def test_v1_old_default_max_tokens_still_works_and_no_policy_adds_nothing(
    ruled: RunningGateway,
) -> None:
    sent = await _v1(ruled, chat_body("hi", model="plain"))
    assert sent["max_tokens"] == 64  # limits.default_max_tokens, read as defaults.max_tokens
    assert sent["messages"] == [{"role": "user", "content": "hi"}]
    assert not {"temperature", "top_p", "repetition_penalty", "presence_penalty"} & set(sent)


async def test_web_chat_order_is_request_then_user_setting_then_profile(
    ruled: RunningGateway,
) -> None:
    async with ruled.login(ADMIN_EMAIL, ADMIN_PASSWORD) as browser:
        await browser.patch("/api/me/settings", json={"temperature": 0.9, "system_prompt": "Mine."})
        by_setting = await chat(browser, {"content": "one", "model": "ruled"})
        by_request = await chat(
            browser,
            {
                "content": "two",
                "conversation_id": by_setting.one("start")["conversation_id"],
                "temperature": 0.1,
                "max_tokens": 9999,
            },
        )
        await browser.patch("/api/me/settings", json={"temperature": None, "system_prompt": None})
        by_profile = await chat(browser, {"content": "three", "model": "ruled"})
    first = await _sent(ruled, by_setting.one("start")["request_id"])
    second = await _sent(ruled, by_request.one("start")["request_id"])
    third = await _sent(ruled, by_profile.one("start")["request_id"])
    assert (first["temperature"], second["temperature"], third["temperature"]) == (0.9, 0.1, 0.3)
    assert first["max_tokens"] == third["max_tokens"] == 200 and second["max_tokens"] == 512
    assert first["top_p"] == 0.8 and first["repetition_penalty"] == 1.15
    assert first["presence_penalty"] == 0.5
    assert first["messages"][0] == {"role": "system", "content": f"{ADMIN_PROMPT}\n\nMine."}
    assert second["messages"][0] == first["messages"][0]  # the conversation keeps its own
    assert third["messages"][0] == {"role": "system", "content": ADMIN_PROMPT}
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "user"]


async def test_web_chat_admin_prompt_is_not_stored_or_removable(ruled: RunningGateway) -> None:
    async with ruled.login(ADMIN_EMAIL, ADMIN_PASSWORD) as browser:
        turn = await chat(browser, {"content": "hi", "model": "ruled", "system_prompt": ""})
        cid = turn.one("start")["conversation_id"]
        detail = (await browser.get(f"/api/conversations/{cid}")).json()
    sent = await _sent(ruled, turn.one("start")["request_id"])
    assert sent["messages"][0] == {"role": "system", "content": ADMIN_PROMPT}
    assert detail["system_prompt"] == ""  # the user's own, empty; the admin's is not theirs


async def test_models_list_shows_defaults_and_the_system_prompt_flag(
    ruled: RunningGateway,
) -> None:
    async with ruled.client() as client:
        cards = {m["id"]: m for m in (await client.get("/v1/models")).json()["data"]}
    assert cards["ruled-model"]["has_system_prompt"] is True
    assert cards["ruled-model"]["system_prompt"] == ADMIN_PROMPT
    assert cards["default"]["defaults"] == {
        "temperature": 0.3,
        "top_p": 0.8,
        "max_tokens": 200,
        "repetition_penalty": 1.15,
        "repetition_window": None,
        "frequency_penalty": None,
        "presence_penalty": 0.5,
    }
    assert cards["plain"]["has_system_prompt"] is False and cards["plain"]["system_prompt"] is None
    assert cards["plain"]["defaults"]["max_tokens"] == 64


async def test_admin_profiles_list_shows_each_policy(ruled: RunningGateway) -> None:
    async with ruled.login(ADMIN_EMAIL, ADMIN_PASSWORD) as admin:
        policies = (await admin.get("/api/admin/profiles")).json()["policies"]
    await ruled.create_user("policy-user@example.com")
    assert policies["ruled"]["system_prompt"] == ADMIN_PROMPT
    assert policies["ruled"]["defaults"]["repetition_penalty"] == 1.15
    assert policies["ruled"]["max_tokens_cap"] == 512
    assert policies["plain"]["system_prompt"] == ""
    async with ruled.login("policy-user@example.com") as browser:
        assert (await browser.get("/api/admin/profiles")).status_code == 403
